'use strict';
// ccxt (JavaScript) adapter: `attach(exchange, secretName)` makes a ccxt exchange instance sign
// through apisec-agent. The instance never holds the secret (nor the passphrase).
//
// ccxt's sign() is synchronous and the agent is a socket away, so the work is split in two:
// the adapter's sign() builds the request exactly as ccxt does but for its authentication and
// remembers what the agent must sign; ccxt's fetch() (asynchronous, called right after with the
// same headers object) asks the agent and sends the completed request. A request that was not
// built that way (public endpoints) goes through untouched.

const fs = require('node:fs');
const path = require('node:path');

const { Agent } = require('../client');
const { Signer } = require('./signer');
const pro = require('./pro');

// The ccxt releases the adapter is tested against (test/ccxt-versions.test.js): the oldest
// freqtrade's Python side accepts, kept the same here, and the newest on npm at the time.
const OLDEST = [4, 5, 76];
const NEWEST = [4, 5, 84];

// One module per exchange: every file of this directory but the shared ones below is named
// after the ccxt id it adapts, exports `preset` (the agent's), `prepare()` (the request ccxt
// builds, and what the agent must sign) and optionally `subclasses` (ccxt's classes of that
// exchange's other products that sign with the same code).
const SHARED = new Set(['index.js', 'signer.js', 'pro.js']);
const ADAPTERS = Object.fromEntries(fs.readdirSync(__dirname)
  .filter((f) => f.endsWith('.js') && !SHARED.has(f) && !f.startsWith('pro_'))
  .sort()
  .map((f) => [f.slice(0, -3), require(path.join(__dirname, f))]));
const SUBCLASSES = Object.fromEntries(Object.entries(ADAPTERS)
  .flatMap(([id, m]) => (m.subclasses || []).map((sub) => [sub, id])));

function parseVersion(text) {
  return String(text).split('.').slice(0, 3).map((p) => parseInt(p, 10) || 0);
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Refuses a ccxt older than the adapter supports; warns about one newer than tested. */
function checkVersion(ccxt, version = ccxt.version) {
  const v = parseVersion(version);
  const [oldest, newest] = [OLDEST.join('.'), NEWEST.join('.')];
  if (compare(v, OLDEST) < 0) {
    throw new ccxt.NotSupported(`apisec adapter: ccxt ${version} is older than ${oldest}, the oldest it supports (tested: ${oldest} to ${newest}); upgrade ccxt (npm install ccxt@^${oldest})`);
  }
  if (compare(v, NEWEST) > 0) {
    process.emitWarning(`apisec adapter: ccxt ${version} is newer than ${newest}, the newest it was tested with; requests ccxt builds differently would be refused by the agent or the exchange`);
  }
}

/** The request builder for a ccxt exchange id, subclasses included. */
function adapterOf(ccxt, id) {
  const found = ADAPTERS[SUBCLASSES[id] || id];
  if (!found) {
    throw new ccxt.NotSupported(`apisec-agent/ccxt does not support ${JSON.stringify(id)}; supported: ${[...Object.keys(ADAPTERS), ...Object.keys(SUBCLASSES)].join(', ')}`);
  }
  return found;
}

/** The value `secret` and `password` hold once attached: any use of it as text raises
 * ccxt.NotSupported saying the agent holds it. */
function held(ccxt, id) {
  const refuse = () => {
    throw new ccxt.NotSupported(`apisec adapter: this ${id} call needs the secret itself, which stays in the agent; the agent signs REST requests and the WebSocket logins of docs/exchanges.md, and no other use of the secret`);
  };
  return Object.freeze({ [Symbol.toPrimitive]: refuse, toString: refuse, valueOf: refuse, apisecHeld: true });
}

/**
 * Makes `exchange` sign private requests through the agent with secret `secretName`. Checks
 * with the agent (no unlock needed) that the secret exists and is for this exchange, and sets
 * `exchange.apiKey` from it. Resolves to `exchange`.
 * @param {object} options `agent` (an Agent; default one on $APISEC_AUTH_SOCK), `clock`
 *   ("agent", the default, or "ccxt"), `ccxt` (the ccxt module; default require('ccxt')).
 */
async function attach(exchange, secretName, options = {}) {
  const ccxt = options.ccxt || require('ccxt');
  checkVersion(ccxt);
  const adapter = adapterOf(ccxt, exchange.id);
  const isHeld = (v) => Boolean(v && v.apisecHeld);
  if ((exchange.secret && !isHeld(exchange.secret)) || (exchange.password && !isHeld(exchange.password))) {
    throw new TypeError('the exchange instance holds a secret or password: leave both empty, the agent signs');
  }
  const agent = options.agent || new Agent();
  const entry = (await agent.status()).secret(secretName);
  if (!entry) throw new ccxt.AuthenticationError(`the agent has no secret named ${JSON.stringify(secretName)}`);
  if (entry.exchange !== adapter.preset) {
    throw new TypeError(`secret ${JSON.stringify(secretName)} is a ${entry.exchange} secret, not ${adapter.preset} (${exchange.id})`);
  }
  if (exchange.apiKey && exchange.apiKey !== entry.apiKey) {
    throw new TypeError(`exchange.apiKey differs from the API key of secret ${JSON.stringify(secretName)}`);
  }
  exchange.apiKey = entry.apiKey;
  exchange.requiredCredentials = { ...exchange.requiredCredentials, secret: false, password: false };
  const signer = new Signer(ccxt, agent, secretName, exchange.id, options.clock || 'agent');
  const waiting = new WeakMap(); // headers object -> the request the agent must sign
  const ownSign = Object.getPrototypeOf(exchange).sign;
  const innerFetch = exchange.fetch;

  exchange.sign = function sign(path, api = 'public', method = 'GET', params = {}, headers = undefined, body = undefined) {
    // ccxt up to 4.5.8x names a one-level API by its string ("private"), others by a list.
    const apis = Array.isArray(api) ? api : [api];
    const prepared = adapter.prepare(this, signer, path, apis, method, params ?? {});
    if (prepared === null) return ownSign.call(this, path, api, method, params, headers, body);
    const marker = {};
    waiting.set(marker, prepared);
    return { url: prepared.url, method, body: prepared.request.body || undefined, headers: marker };
  };
  exchange.fetch = async function fetch(url, method = 'GET', headers = undefined, body = undefined) {
    const prepared = headers && waiting.get(headers);
    if (!prepared) return innerFetch.call(this, url, method, headers, body);
    waiting.delete(headers);
    const result = await signer.sign(prepared.request);
    const request = prepared.finish(result);
    this.last_request_headers = request.headers;
    this.last_request_body = request.body;
    this.last_request_url = request.url;
    return innerFetch.call(this, request.url, request.method, request.headers, request.body);
  };
  exchange.apisecSigner = signer;
  exchange.secret = held(ccxt, exchange.id);
  exchange.password = held(ccxt, exchange.id);
  // ccxt's own signing code encodes the secret first: the held value refuses there too, as
  // ccxt.NotSupported rather than encode's TypeError.
  const ownEncode = exchange.encode;
  exchange.encode = function encode(value) {
    if (isHeld(value)) String(value);
    return ownEncode.call(this, value);
  };
  pro.install(exchange, signer);
  return exchange;
}

module.exports = { attach, adapterOf, checkVersion, ADAPTERS, SUBCLASSES, OLDEST, NEWEST };
