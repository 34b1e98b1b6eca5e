'use strict';
// Bitfinex (v2): the request ccxt (4.5.76 to 4.5.84) builds in bitfinex.sign(), signed by the
// agent.
// Private URL = urls.api.private + "/v2/" + path, always POST with json(params) as the body
// (`{}` when empty); the signed string is "/api/v2/" + path + nonce + body. Headers: bfx-nonce,
// bfx-apikey, bfx-signature, Content-Type JSON. The nonce is the agent's (microseconds,
// increasing per key, shared with its logins); ccxt counts milliseconds (nonce()): do not mix
// the two clocks on one key.

const { pick } = require('./signer');

function prepare(ex, signer, path, api, method, params) {
  if (api[0] !== 'private') return null;
  const request = `${ex.version}/${ex.implodeParams(path, params)}`;
  const base = ex.safeString(ex.urls.api, 'private');
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const body = ex.json(ex.omit(params, ex.extractParams(path)));
  const url = `${base}/${request}`;
  return {
    url,
    request: { method, path: `/${request}`, query: '', body, nonce: signer.clientValue(() => ex.nonce()) },
    finish(result) {
      const headers = pick(signer.ccxt, result, 'bfx-nonce', 'bfx-apikey', 'bfx-signature');
      headers['Content-Type'] = 'application/json';
      return { url, method, body, headers };
    },
  };
}

module.exports = { preset: 'bitfinex', prepare };
