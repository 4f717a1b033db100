#!/usr/bin/env python3
"""Checks on template.yaml and deploy/github-deploy-role.yaml that neither `sam validate --lint`,
cfn-lint nor checkov makes. Run by `make check-sam`:

    check-template.py template.yaml deploy/github-deploy-role.yaml

template.yaml:
- the dashboard body is valid JSON once its ${...} are substituted (with and without WAF);
- each edge routes `ANY` on both endpoints (so every method reaches the function and gets its
  answers); per-route settings name routes that exist (else the stage fails to deploy with
  "Unable to find Route by key");
- with EdgeProtection=waf only the REST API exists and only it may invoke the function, and its
  stage is associated with the web ACL: a per-IP rate-based rule with no scope-down statement
  (so it counts every request the stage serves, whatever its path: /token/, //token, /TOKEN,
  /%74oken) and no rule before it that allows, its limit from PerIpRequestLimit, AWS's IP
  reputation and known-bad-inputs groups, the 8 KiB body limit, and logging that redacts the
  DPoP and Authorization headers;
- the APIs, their stages and the web ACL carry the BridgeStack tag the pipeline's rights test;
- only alarms no caller can raise roll a deployment back;
- the roles carry the permissions boundary, and CodeDeploy's role reaches this stack's functions
  and alarms only; the function may only write and delete records of its own replay table; the
  sign-in proof's parameters reach the function, the assertions' issuer and audience default to
  stack-named values that the outputs show; the created secret has a placeholder for every field
  the function reads; AuthsignalAction is required.
deploy/github-deploy-role.yaml:
- per environment, a deploy role trusted by that GitHub environment only, an execution role, a
  boundary and an artifact bucket, which the Environments parameter can leave out;
- each environment's documents name its own stack only: no policy variable, no pattern of the
  stack prefix alone, no name of the other environment; prod's documents are staging's with
  "staging" read as "prod";
- roles are created or changed only with the environment's own boundary (iam:PermissionsBoundary);
  change sets run only as the environment's execution role; API Gateway and WAF rights are held to
  the stack's tag (aws:ResourceTag, and aws:RequestTag with aws:TagKeys on create); no right over
  API Gateway's /tags, nor over an artifact bucket's policy, public access block or settings.
What each principal can reach by IAM's rules is scripts/iam-reach's (make check-reach).
"""
import json
import os
import re
import sys

from cfnlint.decode import decode_str


def load(path):
    template, problems = decode_str(open(path).read())
    if problems:
        sys.exit(f"{path} does not parse: {problems}")
    return template


template_path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
deploy_path = sys.argv[2] if len(sys.argv) > 2 else "deploy/github-deploy-role.yaml"
template = load(template_path)
resources = template["Resources"]
parameters = template["Parameters"]
failures = []


def fail(message):
    failures.append(message)


def of_type(kind):
    return {name: r for name, r in resources.items() if r["Type"] == kind}


# ---- the dashboard ---------------------------------------------------------------------------
body, variables = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
waf_widget = variables["WafWidget"]["Fn::If"][1]["Fn::Sub"]
widgets = 0
for widget in (waf_widget, ""):
    text = body.replace("${WafWidget}", widget).replace("${ApiDimensions}", '"ApiName", "X", "Stage", "X"')
    try:
        widgets = len(json.loads(re.sub(r"\$\{[^}]+\}", "X", text))["widgets"])
    except (ValueError, KeyError) as error:
        fail(f"dashboard body is not valid JSON ({'with' if widget else 'without'} WAF): {error}")

# ---- the two edges ---------------------------------------------------------------------------
http_routes = {r["Properties"]["RouteKey"] for r in of_type("AWS::ApiGatewayV2::Route").values()}
for expected in ("ANY /token", "ANY /revoke"):
    if expected not in http_routes:
        fail(f"HTTP API route {expected} missing (routes: {sorted(http_routes)})")
for key in resources["BridgeHttpStage"]["Properties"].get("RouteSettings", {}):
    if key not in http_routes:
        fail(f"RouteSettings names {key}, which is not a route")
rest_paths = {}
for name, method in of_type("AWS::ApiGateway::Method").items():
    resource = method["Properties"]["ResourceId"]["Ref"]
    rest_paths[resources[resource]["Properties"]["PathPart"]] = method["Properties"]["HttpMethod"]
if rest_paths != {"token": "ANY", "revoke": "ANY", "sign-up": "ANY"}:
    fail(f"the REST API must route ANY /token, ANY /revoke and ANY /sign-up only: {rest_paths}")
if "ANY /sign-up" not in http_routes:
    fail("HTTP API route ANY /sign-up missing")
# The sign-up's route exists only with SignUp=email, on its edge: off, the path is unrouted.
for name, edge in (("HttpSignUpRoute", "HttpEdge"), ("RestSignUpResource", "WafEdge"), ("RestSignUpMethod", "WafEdge")):
    want = "HttpSignUp" if edge == "HttpEdge" else "RestSignUp"
    if resources.get(name, {}).get("Condition") != want:
        fail(f"{name} must exist only with {want} ({edge} and SignUp=email)")
    if template["Conditions"].get(want) != {"Fn::And": [{"Condition": edge}, {"Condition": "SignUpOn"}]}:
        fail(f"the condition {want} must be {edge} and SignUpOn")

conditions = {"WafEdge": {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
                          "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::WAFv2::WebACL",
                          "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration"},
              "HttpEdge": {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route",
                           "AWS::ApiGatewayV2::Stage"}}
sign_up_conditions = {"WafEdge": "RestSignUp", "HttpEdge": "HttpSignUp"}
for condition, kinds in conditions.items():
    for name, resource in resources.items():
        if resource["Type"] in kinds and resource.get("Condition") not in (condition, sign_up_conditions[condition]):
            fail(f"{name} ({resource['Type']}) must exist only with {condition}")
if of_type("AWS::Lambda::Url"):
    fail("a function URL would reach the function around the edge")
if resources["BridgeFunction"]["Properties"].get("Events"):
    fail("the function must have no SAM events: the edges are declared, each under its condition")
permissions = of_type("AWS::Lambda::Permission")
if sorted(p.get("Condition") for p in permissions.values()) != ["HttpEdge", "WafEdge"]:
    fail(f"exactly one invoke permission per edge, each under its condition: {sorted(permissions)}")
for name, permission in permissions.items():
    source = json.dumps(permission["Properties"]["SourceArn"])
    api = "BridgeRestApi" if permission.get("Condition") == "WafEdge" else "BridgeHttpApi"
    if api not in source:
        fail(f"{name} must let only {api} invoke the function: {source}")

association = resources["WebAclAssociation"]["Properties"]
if association["WebACLArn"] != {"Fn::GetAtt": ["WebAcl", "Arn"]} or not all(
        f"${{{part}}}" in association["ResourceArn"]["Fn::Sub"] for part in ("BridgeRestApi", "RestStage")):
    fail(f"the web ACL must be associated with the REST API's stage: {association}")
acl = resources["WebAcl"]["Properties"]
if acl["Scope"] != "REGIONAL" or acl["DefaultAction"] != {"Allow": {}}:
    fail("the web ACL must be REGIONAL and allow what no rule blocks")
rules = acl["Rules"]
managed = {r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in rules
           if "ManagedRuleGroupStatement" in r["Statement"]}
for group in ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet"):
    if group not in managed:
        fail(f"the web ACL lacks the managed rule group {group}")
rate = [r for r in rules if "RateBasedStatement" in r["Statement"]]
if len(rate) != 1:
    fail("the web ACL needs one rate-based rule")
else:
    statement = rate[0]["Statement"]["RateBasedStatement"]
    scoped = {s["ByteMatchStatement"]["SearchString"] for s in
              statement.get("ScopeDownStatement", {}).get("OrStatement", {}).get("Statements", [])}
    if statement.get("AggregateKeyType") != "IP" or statement.get("Limit") != {"Ref": "PerIpRequestLimit"}:
        fail(f"the rate-based rule must count per client IP up to PerIpRequestLimit: {statement}")
    if "ScopeDownStatement" in statement or scoped:
        fail("the rate-based rule must count every request: a scope-down statement lets variant paths the function "
             f"still serves (/token/, //token, /TOKEN, /%74oken) escape the per-IP limit: {scoped or statement}")
    allowing = [r["Name"] for r in rules if r.get("Priority", 0) < rate[0].get("Priority", 0)
                and ("Allow" in r.get("Action", {}) or "Count" in r.get("OverrideAction", {}))]
    if allowing:
        fail(f"no rule before the rate-based rule may let a request through uncounted: {allowing}")
    if "Block" not in rate[0].get("Action", {}):
        fail("the rate-based rule must block")
size = [r["Statement"]["SizeConstraintStatement"] for r in rules if "SizeConstraintStatement" in r["Statement"]]
if not size or size[0]["Size"] != 8192 or size[0]["ComparisonOperator"] != "GT" \
        or size[0]["FieldToMatch"] != {"Body": {"OversizeHandling": "MATCH"}}:
    fail(f"the web ACL must block bodies over the bridge's 8 KiB: {size}")
for name in ("BridgeRestApi", "RestStage", "WebAcl", "BridgeHttpApi", "BridgeHttpStage"):
    tags = resources[name]["Properties"].get("Tags")
    tags = {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else (tags or {})
    if tags.get("BridgeStack") != {"Ref": "AWS::StackName"}:
        fail(f"{name} must carry the tag BridgeStack=<stack name>: the pipeline's API Gateway and WAF rights test it")
redacted = {f["SingleHeader"]["Name"].lower() for f in resources["WafLogging"]["Properties"].get("RedactedFields", [])}
if not {"dpop", "authorization"} <= redacted:
    fail(f"WAF logs must redact the DPoP and Authorization headers: {sorted(redacted)}")

# ---- alarms ----------------------------------------------------------------------------------
rollback = {a["Ref"] for a in resources["BridgeFunction"]["Properties"]["DeploymentPreference"]["Alarms"]}
if rollback != {"FunctionErrorsAlarm", "ServerErrorsAlarm"}:
    fail(f"only alarms no caller can raise may roll back a deployment: {sorted(rollback)}")
if resources["BlockedRequestsAlarm"].get("Condition") != "WafEdge":
    fail("the BlockedRequestsAlarm exists with the web ACL")

# ---- roles, secret, settings -----------------------------------------------------------------
for role in ("BridgeRole", "CodeDeployRole"):
    boundary = resources[role]["Properties"].get("PermissionsBoundary", {})
    if "HasBoundary" not in json.dumps(boundary) or "PermissionsBoundaryName" not in json.dumps(boundary):
        fail(f"{role} must carry the permissions boundary PermissionsBoundaryName names")
if resources["BridgeFunction"]["Properties"]["DeploymentPreference"].get("Role") != {"Fn::GetAtt": ["CodeDeployRole", "Arn"]}:
    fail("the gradual deployment must use CodeDeployRole (SAM's own role would have no boundary)")
codedeploy = resources["CodeDeployRole"]["Properties"]
if codedeploy.get("ManagedPolicyArns") or any(
        r != "*" and "${AWS::StackName}-*" not in json.dumps(r) or (r == "*" and s["Action"] != "cloudwatch:DescribeAlarms")
        for p in codedeploy.get("Policies", []) for s in p["PolicyDocument"]["Statement"] for r in [s["Resource"]]):
    fail("CodeDeployRole must reach this stack's functions and alarms only, even without a boundary")
statements = resources["BridgeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
replay = [s["Fn::If"][1] for s in statements if isinstance(s, dict) and "Fn::If" in s
          and s["Fn::If"][1].get("Sid") == "ReplayRecords"]
if len(replay) != 1:
    fail("the role has no ReplayRecords statement")
elif (sorted(replay[0]["Action"]) != ["dynamodb:DeleteItem", "dynamodb:PutItem"]
      or replay[0]["Resource"] != {"Fn::GetAtt": ["ReplayTable", "Arn"]}):
    fail(f"ReplayRecords must allow PutItem and DeleteItem on the replay table only: {replay[0]}")
env = resources["BridgeFunction"]["Properties"]["Environment"]["Variables"]
if env.get("REPLAY_TABLE") != {"Fn::If": ["ReplayOn", {"Ref": "ReplayTable"}, ""]}:
    fail(f"REPLAY_TABLE must name the stack's table when replay protection is on: {env.get('REPLAY_TABLE')}")
for variable, parameter in [("AUTH0_SIGN_IN_PROOF", "SignInProof"), ("AUTHSIGNAL_PROFILE", "AuthsignalProfile"),
                            ("AUTHSIGNAL_ACTION", "AuthsignalAction"), ("DPOP", "Dpop")]:
    if env.get(variable) != {"Ref": parameter}:
        fail(f"{variable} must be set from the {parameter} parameter: {env.get(variable)}")
# The assertions name their stack unless a parameter says otherwise, so staging's are never
# valid in prod; the outputs show the Auth0 side what to expect.
stack_named = {
    "ASSERTION_ISSUER": ("AssertionIssuer", "StackNamedIssuer", "authsignal-auth0-bridge:${AWS::StackName}"),
    "ASSERTION_AUDIENCE": ("AssertionAudience", "StackNamedAudience", "${Auth0Realm}:${AWS::StackName}"),
}
outputs = template.get("Outputs", {})
for variable, (parameter, condition, default) in stack_named.items():
    expected = {"Fn::If": [condition, {"Fn::Sub": default}, {"Ref": parameter}]}
    if env.get(variable) != expected:
        fail(f"{variable} must default to {default} and follow {parameter} when set: {env.get(variable)}")
    if parameters.get(parameter, {}).get("Default") != "" or template["Conditions"].get(condition) != {"Fn::Equals": [{"Ref": parameter}, ""]}:
        fail(f"{parameter} must default to empty, meaning {default}")
    if outputs.get(parameter, {}).get("Value") != expected:
        fail(f"the output {parameter} must show the value the function uses: {outputs.get(parameter)}")
if parameters["SignInProof"].get("Default") != "assertion":
    fail("SignInProof must default to assertion: the bridge is the only way in")
action = parameters["AuthsignalAction"]
if "Default" in action or re.fullmatch(action.get("AllowedPattern", ".*"), ""):
    fail("AuthsignalAction must be required: no default, and a pattern that refuses empty")
placeholder = json.loads(resources["BridgeSecret"]["Properties"]["SecretString"])
fields = {"AUTHSIGNAL_SECRET", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "BRIDGE_SIGNING_KEY"}
if set(placeholder) != fields:
    fail(f"the created secret's placeholders must be exactly {sorted(fields)}: {sorted(placeholder)}")

# ---- the deploy stack ------------------------------------------------------------------------
deploy_template = load(deploy_path)
deploy = deploy_template["Resources"]
ENVIRONMENTS = {"staging": "Staging", "prod": "Prod"}
if set(deploy_template["Parameters"].get("Environments", {}).get("AllowedValues", [])) != {"staging", "prod", "staging-and-prod"}:
    fail("the Environments parameter must let an account hold staging, prod, or both")
documents = {}
for environment, prefix in ENVIRONMENTS.items():
    other = next(e for e in ENVIRONMENTS if e != environment)
    parts = {kind: deploy.get(f"{prefix}{kind}") for kind in
             ("DeployRole", "ExecutionRole", "DeployPolicy", "ExecutionPolicy", "Boundary", "ArtifactBucket")}
    missing = [kind for kind, resource in parts.items() if resource is None]
    if missing:
        fail(f"{environment}: the pipeline stack lacks {missing}")
        continue
    for kind, resource in parts.items():
        if resource.get("Condition") != f"Has{prefix}":
            fail(f"{prefix}{kind} must exist only with Has{prefix} (Environments)")
    # Trusted by that GitHub environment only, with exactly one subject.
    trust = parts["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    federated = [t for t in trust if "Federated" in t.get("Principal", {})]
    condition = federated[0].get("Condition", {}) if federated else {}
    subject = condition.get("StringEquals", {}).get("token.actions.githubusercontent.com:sub")
    if len(trust) != 1 or not federated or set(condition) != {"StringEquals"} \
            or subject != {"Fn::Sub": f"repo:${{GitHubRepository}}:environment:{environment}"}:
        fail(f"{prefix}DeployRole must be trusted by the {environment} GitHub environment only: {trust}")
    if parts["DeployRole"]["Properties"].get("ManagedPolicyArns") != [{"Ref": f"{prefix}DeployPolicy"}] \
            or parts["ExecutionRole"]["Properties"].get("ManagedPolicyArns") != [{"Ref": f"{prefix}ExecutionPolicy"}]:
        fail(f"{environment}'s roles must hold their own environment's policies only")
    own = {kind: parts[kind]["Properties"]["PolicyDocument"] for kind in ("DeployPolicy", "ExecutionPolicy", "Boundary")}
    documents[environment] = own
    for kind, document in own.items():
        text = json.dumps(document)
        if "aws:PrincipalTag" in text or "${!" in text:
            fail(f"{prefix}{kind} must name its resources, not take them from a policy variable")
        if f"-{other}" in text or re.search(r"\$\{StackNamePrefix\}(?!-(pipeline-)?" + environment + r"\b)", text):
            fail(f"{prefix}{kind} names something beyond {environment}'s stack (the prefix alone, or {other})")
    statements = own["ExecutionPolicy"]["Statement"]
    creating = [t for t in statements if any(a in json.dumps(t.get("Action")) for a in ("iam:CreateRole", "iam:PutRolePolicy"))]
    if not creating or any(t.get("Condition", {}).get("StringEquals", {}).get("iam:PermissionsBoundary")
                           != {"Ref": f"{prefix}Boundary"} for t in creating):
        fail(f"{environment}: roles are created or changed only with {prefix}Boundary (iam:PermissionsBoundary)")
    if any("iam:AttachRolePolicy" in json.dumps(t.get("Action")) for t in statements):
        fail(f"{environment}: no managed policy may be attached to a role of the stack")
    for t in statements:
        text = json.dumps(t)
        if t["Effect"] == "Allow" and ("apigateway:" in text or "webacl/" in text):
            tag = t.get("Condition", {}).get("StringEquals", {})
            if "/tags" in text:
                fail(f"{environment}: no right over API Gateway's /tags (the resource has no tag condition): {t['Sid']}")
            elif "managedruleset" in text or "/stages/*" in text and t["Action"] == ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "wafv2:GetWebACLForResource"]:
                continue
            elif "aws:ResourceTag/BridgeStack" not in tag and "aws:RequestTag/BridgeStack" not in tag \
                    and "ForAllValues:StringNotEquals" not in t.get("Condition", {}):
                fail(f"{environment}: {t['Sid']} must be held to the stack's tag (aws:ResourceTag or aws:RequestTag)")
            elif "aws:RequestTag/BridgeStack" in tag and t.get("Condition", {}).get("ForAnyValue:StringEquals", {}).get("aws:TagKeys") != "BridgeStack":
                fail(f"{environment}: {t['Sid']} creates only with the BridgeStack tag key (aws:TagKeys)")
    deploy_statements = own["DeployPolicy"]["Statement"]
    change_sets = [t for t in deploy_statements if t.get("Action") == "cloudformation:CreateChangeSet" and "stack/" in json.dumps(t)]
    if not change_sets or any(t.get("Condition", {}).get("StringEquals", {}).get("cloudformation:RoleArn") is None for t in change_sets):
        fail(f"{environment}: change sets must run as the execution role (cloudformation:RoleArn)")
    bucket_rights = {a for t in deploy_statements for a in ([t["Action"]] if isinstance(t["Action"], str) else t["Action"])
                     if a.startswith("s3:")}
    if not bucket_rights <= {"s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"}:
        fail(f"{environment}: the deploy role may only read and write artifacts: {sorted(bucket_rights)}")
if len(documents) == 2 and json.dumps(documents["staging"]).replace("staging", "prod").replace("Staging", "Prod") \
        != json.dumps(documents["prod"]):
    fail("prod's pipeline documents must be staging's with staging read as prod")

# samconfig.toml as SAM itself reads it (its own parser, from .venv): an item SAM cannot read,
# such as "Name=" with nothing after it, fails `sam deploy` on the first deploy.
try:
    import tomllib
    from samcli.cli.types import CfnParameterOverridesType
except ImportError:
    fail("run with .venv/bin/python: SAM's own parser checks samconfig.toml")
else:
    samconfig = tomllib.load(open(os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "samconfig.toml"), "rb"))
    for environment, commands in samconfig.items():
        if not isinstance(commands, dict):
            continue
        listed = commands.get("deploy", {}).get("parameters", {}).get("parameter_overrides")
        try:
            read = CfnParameterOverridesType().convert(listed or [], None, None)
        except Exception as error:  # click's BadParameter: SAM refuses the list
            fail(f"samconfig.toml [{environment}]: SAM cannot read parameter_overrides: {error}")
            continue
        unknown = set(read) - set(template["Parameters"])
        if unknown:
            fail(f"samconfig.toml [{environment}] overrides parameters template.yaml lacks: {sorted(unknown)}")

if failures:
    sys.exit("\n".join(failures))
print(f"template checks passed: HTTP API routes {sorted(http_routes)}, REST API routes {sorted(rest_paths)}, "
      f"web ACL with {len(rules)} rules (the per-IP limit on every request), dashboard with {widgets} widgets, "
      f"rollback alarms {sorted(rollback)}, pipeline environments {sorted(documents)}")
