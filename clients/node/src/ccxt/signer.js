'use strict';
// What every exchange module of the ccxt adapter shares: the agent call, the clock choice, and
// the translation of the agent's refusals into ccxt's own error classes (the agent's error stays
// as `cause`).

const errors = require('../errors');

const CLOCKS = ['agent', 'ccxt'];

class Signer {
  /** `clock: "agent"` (the default) lets the agent stamp timestamps, as it is meant to;
   * `"ccxt"` sends ccxt's own clock, accepted only within the secret's freshness window. */
  constructor(ccxt, agent, name, exchangeId, clock) {
    if (!CLOCKS.includes(clock)) throw new TypeError(`clock must be one of ${CLOCKS.join(', ')}, not ${clock}`);
    this.ccxt = ccxt;
    this.agent = agent;
    this.name = name;
    this.exchangeId = exchangeId;
    this.clock = clock;
  }

  /** ccxt's clock value when clock = "ccxt", else undefined (the agent stamps). */
  clientValue(read) {
    return this.clock === 'ccxt' ? String(read()) : undefined;
  }

  async sign(request) {
    try {
      return await this.agent.sign(this.name, request.method, request.path, request);
    } catch (e) {
      throw this.translate(e, 'refused to sign');
    }
  }

  translate(e, what) {
    const { ccxt } = this;
    let out;
    if (e instanceof errors.SignError || e instanceof errors.BadRequest) {
      out = new ccxt.BadRequest(`${this.exchangeId} apisec agent ${what}: ${e.message}`);
    } else if (e instanceof errors.PolicyRefused || e instanceof errors.ApprovalDenied) {
      // What the secret's policy (or its human) does not allow: ccxt's "the key may not".
      out = new ccxt.PermissionDenied(`${this.exchangeId} apisec agent: ${e.message}`);
    } else if (e instanceof errors.AgentError) {
      out = new ccxt.AuthenticationError(`${this.exchangeId} apisec agent: ${e.message}`);
    } else {
      return e;
    }
    out.cause = e;
    return out;
  }
}

/** The named headers of the agent's reply; a missing one means the preset and this adapter
 * disagree, which must not be papered over. */
function pick(ccxt, result, ...names) {
  const missing = names.filter((n) => !(n in result.headers));
  if (missing.length) throw new ccxt.ExchangeError(`apisec agent reply lacks headers ${missing.join(', ')}`);
  const out = {};
  for (const n of names) out[n] = result.headers[n];
  return out;
}

function urlPath(url) {
  return new URL(url).pathname;
}

module.exports = { Signer, pick, urlPath };
