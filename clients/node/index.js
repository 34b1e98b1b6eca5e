'use strict';
// Client for apisec-agent: exchange API requests are signed by the agent, so the bot never
// holds the secret. See README.md; the ccxt adapter is `require('apisec-agent/ccxt')`.
// The exports are listed one by one so that ESM's `import { Agent } from 'apisec-agent'` sees
// each name.

const { Agent } = require('./src/client');
const {
  AgentError, AgentNotRunning, ClientTimeout, UnsupportedRequest, BadRequest, SecretNotFound, SecretSealed,
  ApprovalDenied, ApprovalTimeout, PolicyRefused, BadEntry, TokenError, AgentLocked, SignError, fromCode,
} = require('./src/errors');
const { SignResult, LoginResult } = require('./src/results');

const version = '0.1.0';

module.exports = {
  Agent,
  SignResult,
  LoginResult,
  AgentError,
  AgentNotRunning,
  ClientTimeout,
  UnsupportedRequest,
  BadRequest,
  SecretNotFound,
  SecretSealed,
  ApprovalDenied,
  ApprovalTimeout,
  PolicyRefused,
  BadEntry,
  TokenError,
  AgentLocked,
  SignError,
  fromCode,
  version,
};
