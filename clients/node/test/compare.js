'use strict';
// ccxt signing by itself (with the secret, clock pinned) and ccxt attached to the agent, each
// request captured instead of sent.

const { attach } = require('../src/ccxt');

function pin(ex, millis) {
  ex.milliseconds = () => millis;
  ex.seconds = () => Math.floor(millis / 1000);
  ex.uuid22 = () => '0123456789abcdef012345';
  return ex;
}

function capture(ex) {
  const seen = [];
  ex.fetch = async (url, method = 'GET', headers = undefined, body = undefined) => {
    seen.push({ url, method, headers, body });
    return {};
  };
  return seen;
}

async function call(ex, seen, method, params) {
  await ex[method](structuredClone(params));
  if (seen.length !== 1) throw new Error(`expected one request, saw ${seen.length}`);
  return seen.pop();
}

async function reference(ccxt, cred, millis, method, params) {
  const ex = pin(new ccxt[cred.exchange]({ apiKey: cred.apiKey, secret: cred.secret, password: cred.passphrase || '', enableRateLimit: false }), millis);
  const seen = capture(ex);
  // Binance refuses a signature over an unencoded payload since 2026-01-15: the encoded form.
  if (cred.exchange === 'binance') ex.rawencode = ex.urlencode;
  return call(ex, seen, method, params);
}

async function adapted(ccxt, cred, agent, millis, method, params) {
  const ex = new ccxt[cred.exchange]({ enableRateLimit: false });
  if (millis !== undefined) pin(ex, millis);
  const seen = capture(ex);
  await attach(ex, cred.name, { agent, ccxt, clock: millis === undefined ? 'agent' : 'ccxt' });
  return { ex, request: await call(ex, seen, method, params) };
}

/** URL, method, body and headers (names, values and order) equal; a failure never shows a
 * passphrase. */
function sameRequest(assert, got, want) {
  const hide = (r) => ({ ...r, headers: r.headers && Object.entries(r.headers).map(([k, v]) => [k, k.includes('PASSPHRASE') ? (v === (want.headers || {})[k] ? '<same>' : '<differs>') : v]) });
  assert.deepEqual(hide(got), hide(want));
}

/** The parameters of a request's query, or of its form body when the URL has none. */
function queryOf(r) {
  return new URLSearchParams(r.url.split('?')[1] || (typeof r.body === 'string' ? r.body : ''));
}

module.exports = { pin, capture, reference, adapted, sameRequest, queryOf };

// Per-exchange corrections of ccxt's own request, from test/cases/ID.js (the Python tests'
// as_documented and sent_as_documented), the comparison otherwise byte for byte:
// `reference(ex, millis)` adjusts ccxt's instance before it signs (ccxt given the agent's
// nonce where the two clocks count differently); `sent(got, want, assert)` returns ccxt's
// request as the exchange documents it, asserting what it corrects (KuCoin's raw query).
function caseFileOf(id) {
  const file = require('node:path').join(__dirname, 'cases', `${id}.js`);
  return require('node:fs').existsSync(file) ? require(file) : {};
}

const referenceAsCcxt = module.exports.reference;
const sameRequestAsIs = module.exports.sameRequest;
const CORRECT = Symbol('correct');

module.exports.reference = async function correctedReference(ccxt, cred, millis, method, params) {
  const file = caseFileOf(cred.exchange);
  let lib = ccxt;
  if (file.reference) {
    const Plain = ccxt[cred.exchange];
    const Adjusted = class extends Plain {
      constructor(config) {
        super(config);
        file.reference(this, millis);
      }
    };
    lib = Object.create(ccxt, { [cred.exchange]: { value: Adjusted } });
  }
  const want = await referenceAsCcxt(lib, cred, millis, method, params);
  if (file.sent) Object.defineProperty(want, CORRECT, { value: (got, assert) => file.sent(got, want, assert) });
  return want;
};

module.exports.sameRequest = function correctedSameRequest(assert, got, want) {
  sameRequestAsIs(assert, got, want && want[CORRECT] ? want[CORRECT](got, assert) : want);
};

// What a module refuses (test/cases/ID.js `tests`): ccxt attached to the agent (the agent's
// clock), its network captured, and the refusal, nothing sent.
async function attached(ccxt, cred, agent) {
  const ex = new ccxt[cred.exchange]({ enableRateLimit: false });
  const seen = capture(ex);
  await attach(ex, cred.name, { agent, ccxt });
  return { ex, seen };
}

/** The error `method` fails with (`setup(ex)` first, e.g. another host); throws if it was sent. */
async function refused(ccxt, cred, agent, method, params, setup = undefined) {
  const { ex, seen } = await attached(ccxt, cred, agent);
  if (setup) setup(ex);
  const error = await ex[method](structuredClone(params)).then(() => undefined, (e) => e);
  if (seen.length) throw new Error(`${cred.exchange} ${method} was sent: ${JSON.stringify(seen)}`);
  return error;
}

Object.assign(module.exports, { attached, refused });
