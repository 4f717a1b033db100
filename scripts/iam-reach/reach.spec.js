// make check-reach: the reach check passes on the repository's templates, and fails, naming
// the requests, on the templates of commit 49fc17c (before issue 25) and whenever one of that
// review's two high findings is put back: a boundary that names the other environment's
// resources, or API Gateway rights not held to the stack's tag.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { analyse } = require('./reach');

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const CURRENT = {
  bridgeText: read('template.yaml'),
  pipelineText: read('deploy/github-deploy-role.yaml'),
  samconfigText: read('samconfig.toml')
};
const BEFORE = '49fc17c';

const findings = (result, setup = 'one AWS account') => result.setups.find((s) => s.name === setup)
  .directions.flatMap((d) => d.findings.map((f) => ({ ...f, from: d.attacker })));
const has = (list, from, action, target) => list.some((f) => f.from === from && f.action === action && f.target === target);

// The part of the pipeline template between two markers, changed by `change`.
function within(text, from, to, change) {
  const start = text.indexOf(from);
  const end = text.indexOf(to, start + from.length);
  assert.ok(start >= 0 && end > start, `markers ${from} .. ${to} not found`);
  const changed = change(text.slice(start, end));
  assert.notStrictEqual(changed, text.slice(start, end), 'the mutation changed nothing');
  return text.slice(0, start) + changed + text.slice(end);
}

test('the repository\'s templates: neither pipeline reaches the other environment, in one account or two', async () => {
  const result = await analyse(CURRENT);
  assert.deepStrictEqual(result.failures, []);
  for (const setup of result.setups) {
    for (const direction of setup.directions) {
      const labels = direction.reached.map((r) => r.principal.label);
      // Every principal the attacker can become was evaluated: the deploy role, the execution
      // role it passes to CloudFormation, the stack's roles, and a role created under the
      // environment's own boundary (never under the other's, never without one).
      assert.ok(labels.some((l) => l.startsWith(`${direction.attacker} deploy role`)), labels.join('\n'));
      assert.ok(labels.some((l) => l.startsWith(`${direction.attacker} execution role`)), labels.join('\n'));
      assert.ok(labels.some((l) => l.includes(`under authsignal-auth0-bridge-pipeline-${direction.attacker}-boundary`)), labels.join('\n'));
      assert.ok(!labels.some((l) => l.includes(`pipeline-${direction.other}-boundary`) || l.includes('NO boundary')), labels.join('\n'));
    }
  }
});

test(`the templates of ${BEFORE}: the shared boundary, the unscoped edge and the shared bucket reach the other environment`, async (t) => {
  try {
    execFileSync('git', ['-C', ROOT, 'cat-file', '-e', `${BEFORE}^{commit}`], { stdio: 'ignore' });
  } catch {
    t.skip(`commit ${BEFORE} is not in this clone (a shallow checkout): fetch the history to run this test`);
    return;
  }
  const show = (file) => execFileSync('git', ['-C', ROOT, 'show', `${BEFORE}:${file}`], { encoding: 'utf8' });
  const result = await analyse({
    bridgeText: show('template.yaml'), pipelineText: show('deploy/github-deploy-role.yaml'), samconfigText: show('samconfig.toml')
  });
  const list = findings(result);
  for (const [from, other] of [['staging', 'prod'], ['prod', 'staging']]) {
    // High: a role created under the shared boundary reads the other's secret, deletes its
    // replay records, moves its alias.
    assert.ok(has(list, from, 'secretsmanager:GetSecretValue', `${other} BridgeSecret`), `${from}: secret`);
    assert.ok(has(list, from, 'dynamodb:DeleteItem', `${other} ReplayTable`), `${from}: table`);
    assert.ok(has(list, from, 'lambda:UpdateAlias', `${other} BridgeFunction (its alias)`), `${from}: alias`);
    // High: the edge, by its public id only.
    assert.ok(has(list, from, 'apigateway:PATCH', `${other} RestTokenMethod (its integration)`), `${from}: REST integration`);
    assert.ok(has(list, from, 'apigateway:PATCH', `${other} HttpTokenRoute`), `${from}: HTTP route`);
    assert.ok(has(list, from, 'wafv2:DisassociateWebACL', `${other} RestStage (stage live)`), `${from}: web ACL`);
    // Medium: the other's artifacts, and the bucket's policy.
    assert.ok(has(list, from, 's3:PutObject', `${other}'s artifacts in SAM's managed bucket`), `${from}: artifacts`);
    assert.ok(has(list, from, 's3:PutBucketPolicy', 'SAM\'s managed artifact bucket (the bucket)'), `${from}: bucket policy`);
  }
  assert.ok(result.failures.length > 0);
});

test('a staging boundary that names prod\'s resources again (the shared boundary) fails the check', async () => {
  const pipelineText = within(CURRENT.pipelineText, '  StagingBoundary:', '  # ====', (part) => part
    .replace(/\$\{StackNamePrefix\}-staging[^\s"]*/g, '${StackNamePrefix}-*'));
  const list = findings(await analyse({ ...CURRENT, pipelineText }));
  assert.ok(has(list, 'staging', 'secretsmanager:GetSecretValue', 'prod BridgeSecret'));
  assert.ok(has(list, 'staging', 'dynamodb:DeleteItem', 'prod ReplayTable'));
  assert.ok(has(list, 'staging', 'lambda:UpdateAlias', 'prod BridgeFunction (its alias)'));
});

test('a staging execution role that may create roles under prod\'s boundary fails the check', async () => {
  const pipelineText = within(CURRENT.pipelineText, '  StagingExecutionPolicy:', '  StagingBoundary:', (part) => part
    .replace('iam:PermissionsBoundary: !Ref StagingBoundary',
      'iam:PermissionsBoundary: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${StackNamePrefix}-pipeline-prod-boundary'));
  const list = findings(await analyse({ ...CURRENT, pipelineText }));
  assert.ok(has(list, 'staging', 'secretsmanager:GetSecretValue', 'prod BridgeSecret'));
});

test('API Gateway rights not held to the stack\'s tag (the unscoped edge) fail the check', async () => {
  const pipelineText = within(CURRENT.pipelineText, '          - Sid: TheEdgeTaggedAsStaging', '          - Sid: CreateTheWebAclTaggedAsStaging', (part) => part
    .replace(/\n {12}Condition:\n {14}StringEquals:\n {16}aws:ResourceTag\/BridgeStack: [^\n]+/, ''));
  const list = findings(await analyse({ ...CURRENT, pipelineText }));
  assert.ok(has(list, 'staging', 'apigateway:PATCH', 'prod RestTokenMethod (its integration)'));
  assert.ok(has(list, 'staging', 'apigateway:PATCH', 'prod HttpTokenRoute'));
  // With SetWebACL on every stage, wafv2's stage-wide rights take prod's web ACL away.
  assert.ok(has(list, 'staging', 'wafv2:DisassociateWebACL', 'prod RestStage (stage live)'));
  assert.ok(has(list, 'staging', 'apigateway:SetWebACL', 'prod RestStage (stage live)'));
});
