#!/usr/bin/env node
// `make auth0-scripts`: copies the shared assertion verification
// (auth0/shared/assertion-verification.js) into the files Auth0 runs, between their BEGIN and
// END lines, indented as the BEGIN line is, with the source's "edit it here" line replaced by one
// that sends the reader of a copy to the source. With --check it changes nothing and exits 1
// when a copy differs (auth0/shared.test.js runs that).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const AUTH0_DIR = path.join(__dirname, '..', 'auth0');
const SHARED = path.join(AUTH0_DIR, 'shared', 'assertion-verification.js');
const SHIPPED = ['login.js', 'token-exchange.js'].map((name) => path.join(AUTH0_DIR, name));
const BEGIN = '// ---- BEGIN shared assertion verification';
const END = '// ---- END shared assertion verification ----';
// The source says where to edit; each copy says where its source is and what makes the copies.
const SOURCE_NOTE = '// This file is the source of this block: edit it here, then run `make auth0-scripts`.';
const COPY_NOTE = '// A copy of auth0/shared/assertion-verification.js: edit that file, not this block, then\n' +
  '// run `make auth0-scripts`, which writes this copy.';

// The shared block as a copy holds it.
function copyOf(shared) {
  if (!shared.includes(SOURCE_NOTE)) throw new Error(`auth0/shared/assertion-verification.js lacks the line ${SOURCE_NOTE}`);
  return shared.replace(SOURCE_NOTE, COPY_NOTE);
}

// Where the block that opens with a line starting `beginLine` and closes with the line
// `endLine` is among `lines`: {begin, end (their indexes), indent (the opening line's)}, or
// null when there is no such block. The generated settings block (scripts/auth0-code.js) is
// found the same way.
function blockBounds(lines, beginLine, endLine) {
  const begin = lines.findIndex((line) => line.trimStart().startsWith(beginLine));
  const end = lines.findIndex((line, index) => index > begin && line.trim() === endLine);
  if (begin < 0 || end < 0) return null;
  return { begin, end, indent: lines[begin].slice(0, lines[begin].length - lines[begin].trimStart().length) };
}

// `file`'s text with the shared block in place of its current copy.
function withSharedBlock(text, shared, file) {
  const lines = text.split('\n');
  const bounds = blockBounds(lines, BEGIN, END);
  if (!bounds) throw new Error(`${file} has no ${BEGIN} ... ${END} block`);
  const block = copyOf(shared).replace(/\n$/, '').split('\n').map((line) => (line ? bounds.indent + line : line));
  return [...lines.slice(0, bounds.begin), ...block, ...lines.slice(bounds.end + 1)].join('\n');
}

function main(argv) {
  const check = argv.includes('--check');
  const shared = fs.readFileSync(SHARED, 'utf8');
  const stale = [];
  for (const file of SHIPPED) {
    const text = fs.readFileSync(file, 'utf8');
    const updated = withSharedBlock(text, shared, path.relative(process.cwd(), file));
    if (updated === text) continue;
    stale.push(path.relative(path.join(AUTH0_DIR, '..'), file));
    if (!check) fs.writeFileSync(file, updated);
  }
  if (check && stale.length) {
    process.stderr.write(`${stale.join(', ')}: the shared assertion verification differs from ` +
      'auth0/shared/assertion-verification.js; run `make auth0-scripts`\n');
    return 1;
  }
  process.stdout.write(stale.length ? `updated ${stale.join(', ')}\n` : 'the shipped Auth0 files hold the shared verification\n');
  return 0;
}

module.exports = { blockBounds, withSharedBlock };

if (require.main === module) process.exit(main(process.argv.slice(2)));
