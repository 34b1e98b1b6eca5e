'use strict';
// BitMEX: the request ccxt builds in bitmex.sign(), signed by the agent (preset `bitmex`).
// ccxt (JavaScript) has a bitmex class in 4.5.76 and 4.5.81 but not in 4.5.84: this module
// serves the versions that have it (test/ccxt-versions.test.js runs its cases there).
//
// As ccxt: URL = urls.api[api] + "/api/v1/" + path (no placeholders); a GET sends every
// parameter urlencoded in the query; other methods send json(params) as the body when there
// are any, and `_format` alone in the query. ccxt signs its public endpoints too whenever the
// instance has credentials, which an attached one has: so does the adapter (the agent's table
// knows them as reads). Signed string: METHOD + path(?query) + expires + body. Headers, in
// ccxt's order: Content-Type JSON, api-key, api-expires, api-signature.
//
// A DELETE with parameters (cancelOrder, cancelOrders, cancelAllOrders with a symbol) sends
// them as a JSON body, as BitMEX takes them; the agent signs it, the body included.
//
// `api-expires` is the agent's stamp, its clock + 10 s; ccxt's is seconds() + options
// recvWindow / 1000 (5 s), which the adapter sends with clock "ccxt".

const { pick } = require('./signer');

/** ccxt's api-expires: seconds() + recvWindow (ms) / 1000, or options['api-expires']. */
function expires(ccxt, ex) {
  const apiExpires = ex.safeInteger(ex.options, 'api-expires');
  const value = ex.sum(ex.seconds(), ex.safeIntegerProduct(ex.options, 'recvWindow', 0.001, apiExpires));
  if (value === undefined) throw new ccxt.ExchangeError(`${ex.id} sign() missing expires`);
  return value;
}

function prepare(ex, signer, path, api, method, params) {
  const { ccxt } = signer;
  const apiName = api[0];
  if (apiName !== 'private' && !(apiName === 'public' && ex.checkRequiredCredentials(false))) return null;
  const requestPath = `/api/${ex.version}/${path}`;
  let query = '';
  let rest = params;
  if (method === 'GET') {
    if (Object.keys(params).length > 0) query = ex.urlencode(params);
  } else {
    const format = ex.safeString(params, '_format');
    if (format !== undefined) {
      query = ex.urlencode({ _format: format });
      rest = ex.omit(params, '_format');
    }
  }
  const base = ex.safeString(ex.urls.api, apiName);
  if (base === undefined) throw new ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  let body;
  if ((method === 'POST' || method === 'PUT' || method === 'DELETE') && Object.keys(rest).length > 0) {
    body = ex.json(rest);
  }
  const url = base + requestPath;
  return {
    url: query ? `${url}?${query}` : url,
    request: { method, path: requestPath, query, body: body ?? '', timestamp: signer.clientValue(() => expires(ccxt, ex)) },
    finish(result) {
      const headers = { 'Content-Type': 'application/json', ...pick(ccxt, result, 'api-key', 'api-expires', 'api-signature') };
      return { url: result.query ? `${url}?${result.query}` : url, method, body, headers };
    },
  };
}

module.exports = { preset: 'bitmex', prepare };
