// Asking the operator on the terminal, for the values `make deploy` and `make smoke` cannot read
// anywhere else (the Authsignal secret key, the Management API application's credentials). A
// hidden answer is read in raw mode: nothing typed is echoed, not even as stars. Without a
// terminal (a pipeline), the question is an error that names the environment variable to set.
'use strict';
const { OperatorError } = require('../auth0-tenant/errors.js');

const ENTER = new Set(['\r', '\n', '\u0004']);
const ERASE = new Set(['\u007f', '\b']);

// Asks `question`; resolves to the answer without its line end, trimmed. `variable` is what a
// run without a terminal sets instead.
function ask(question, { hidden = false, variable, input = process.stdin, output } = {}) {
  output = output || process.stderr;
  if (!input.isTTY || typeof input.setRawMode !== 'function') {
    return Promise.reject(new OperatorError(`${question.replace(/[:\s]+$/, '')}: there is no terminal to ask on. Fix: set ${variable} in the environment.`));
  }
  return new Promise((resolve, reject) => {
    let answer = '';
    const wasRaw = Boolean(input.isRaw);
    const finish = (error) => {
      input.removeListener('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else if (!answer.trim()) reject(new OperatorError(`${question.replace(/[:\s]+$/, '')}: nothing was typed. Fix: type it, or set ${variable}.`));
      else resolve(answer.trim());
    };
    function onData(chunk) {
      for (const char of String(chunk)) {
        if (ENTER.has(char)) return finish();
        if (char === '\u0003') return finish(new OperatorError('interrupted at a question: nothing more was done. Fix: run the command again.'));
        if (ERASE.has(char)) {
          if (answer && !hidden) output.write('\b \b');
          answer = answer.slice(0, -1);
        } else {
          answer += char;
          if (!hidden) output.write(char);
        }
      }
      return undefined;
    }
    output.write(question);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}

module.exports = { ask };
