'use strict';
// MEXC spot (v3): the request ccxt (4.5.76 to 4.5.84) builds in mexc.sign(), signed by the
// agent. MEXC's futures (contract), spot2 and broker APIs sign differently and are not the
// agent's `mexc` preset: refused with ccxt.NotSupported.
// URL = urls.api.spot.private + "/api/v3/" + path; every parameter goes in the query,
// percent-encoded, then `timestamp` (ccxt's nonce) and `recvWindow` (options, default 5000),
// whatever the method; the signature (hex HMAC-SHA256 of that query) is appended last. The
// adapter asks the agent with an empty `timestamp=` where ccxt puts the stamp (a caller's own
// `timestamp` parameter keeps its place, as in ccxt). Headers: X-MEXC-APIKEY, source (ccxt's
// broker option), Content-Type JSON on POST, PUT and DELETE; no body.

const { pick } = require('./signer');

function prepare(ex, signer, path, api, method, params) {
  const section = ex.safeString(api, 0);
  const access = ex.safeString(api, 1);
  if (access !== 'private') return null;
  if (section !== 'spot') {
    throw new signer.ccxt.NotSupported(`apisec adapter: mexc ${section} APIs sign differently from the agent's mexc preset (spot v3)`);
  }
  const base = ex.safeString(ex.safeDict(ex.urls.api, 'spot', {}), 'private');
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const requestPath = `/api/${ex.version}/${ex.implodeParams(path, params)}`;
  const values = ex.omit(params, ex.extractParams(path));
  values.timestamp = '';
  values.recvWindow = ex.safeInteger(ex.options, 'recvWindow', 5000);
  const query = ex.urlencode(values);
  const url = base + requestPath;
  return {
    url: `${url}?${query}`,
    request: { method, path: requestPath, query, body: '', timestamp: signer.clientValue(() => ex.nonce()) },
    finish(result) {
      if (!('signature' in result.queryAdditions)) {
        throw new signer.ccxt.ExchangeError('apisec agent reply lacks the signature for mexc');
      }
      const headers = pick(signer.ccxt, result, 'X-MEXC-APIKEY');
      headers.source = ex.safeString(ex.options, 'broker', 'CCXT');
      if (method === 'POST' || method === 'PUT' || method === 'DELETE') headers['Content-Type'] = 'application/json';
      return { url: `${url}?${result.query}`, method, body: undefined, headers };
    },
  };
}

module.exports = { preset: 'mexc', prepare };
