'use strict';
// One error class per error code of docs/protocol.md, so a bot can tell "ask the owner to
// unlock" from "this request is malformed" without parsing messages. The message is the agent's
// sentence for people; it never contains a secret.

class AgentError extends Error {
  constructor(message, code) {
    super(`${message} (${code || new.target.code})`);
    this.name = new.target.name;
    this.code = code || new.target.code;
    this.agentMessage = message;
  }
}
AgentError.code = 'internal';

function define(name, code) {
  const cls = { [name]: class extends AgentError {} }[name];
  cls.code = code;
  return cls;
}

const AgentNotRunning = define('AgentNotRunning', 'not-running');
const ClientTimeout = define('ClientTimeout', 'client-timeout');
const UnsupportedRequest = define('UnsupportedRequest', 'unsupported');
const BadRequest = define('BadRequest', 'bad-request');
const SecretNotFound = define('SecretNotFound', 'not-found');
const SecretSealed = define('SecretSealed', 'sealed');
const ApprovalDenied = define('ApprovalDenied', 'denied');
const ApprovalTimeout = define('ApprovalTimeout', 'timeout');
const PolicyRefused = define('PolicyRefused', 'refused');
const BadEntry = define('BadEntry', 'bad-entry');
const TokenError = define('TokenError', 'token');
const AgentLocked = define('AgentLocked', 'agent-locked');
const SignError = define('SignError', 'sign');

const BY_CODE = new Map([BadRequest, SecretNotFound, SecretSealed, ApprovalDenied,
  ApprovalTimeout, PolicyRefused, BadEntry, TokenError, AgentLocked, SignError]
  .map((cls) => [cls.code, cls]));

/** The error for a refusal; an unknown code (a newer agent) stays a plain AgentError. */
function fromCode(code, message) {
  const cls = BY_CODE.get(code) || AgentError;
  return new cls(message, code);
}

module.exports = {
  AgentError, AgentNotRunning, ClientTimeout, UnsupportedRequest, BadRequest, SecretNotFound,
  SecretSealed, ApprovalDenied, ApprovalTimeout, PolicyRefused, BadEntry, TokenError,
  AgentLocked, SignError, fromCode,
};
