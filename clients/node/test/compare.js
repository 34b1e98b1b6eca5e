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
