'use strict';
// OKX v5: the request ccxt (4.5.76 to 4.5.84) builds in okx.sign(), signed by the agent.
// URL = the rest host + "/api/v5/" + path; GET sends the params urlencoded in the query (signed
// with its "?"); other methods send json(params) when there are params (or a list), always with
// Content-Type. On POST trade/order, trade/order-algo and trade/batch-orders ccxt tags orders
// that name no clOrdId with its broker id (clOrdId and tag); for a single order it tags the
// caller's object AFTER copying the params for the body, so only batch orders carry the tag in
// the body: the adapter does the same. Headers in ccxt's order: KEY, PASSPHRASE, TIMESTAMP,
// [Content-Type], SIGN. okxus (OKX's US site) is the same code.

const { pick } = require('./signer');

const TAGGED_PATHS = ['trade/batch-orders', 'trade/order-algo', 'trade/order'];
const AUTH = ['OK-ACCESS-KEY', 'OK-ACCESS-PASSPHRASE', 'OK-ACCESS-TIMESTAMP', 'OK-ACCESS-SIGN'];

function tagOrders(ex, params) {
  const brokerId = ex.safeString(ex.options, 'brokerId', '6b9ad766b55dBCDE');
  for (const entry of Array.isArray(params) ? params : [params]) {
    if (ex.safeString(entry, 'clOrdId') === undefined) {
      entry.clOrdId = brokerId + ex.uuid16();
      entry.tag = brokerId;
    }
  }
}

function prepare(ex, signer, path, api, method, params) {
  if (api[0] !== 'private') return null;
  const isArray = Array.isArray(params);
  const requestPath = `/api/${ex.version}/${ex.implodeParams(path, params)}`;
  // ccxt's omit() returns a list unchanged: a batch's body is the caller's list itself.
  const query = ex.omit(params, ex.extractParams(path));
  const base = ex.safeString(ex.urls.api, 'rest');
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const url = ex.implodeHostname(base) + requestPath;
  if (method === 'POST' && TAGGED_PATHS.includes(path)) tagOrders(ex, params);
  const filled = isArray || Object.keys(query).length > 0;
  const body = method !== 'GET' && filled ? ex.json(query) : undefined;
  const signedQuery = method === 'GET' && filled ? ex.urlencode(query) : '';
  return {
    url: signedQuery ? `${url}?${signedQuery}` : url,
    request: {
      method, path: requestPath, query: signedQuery, body: body ?? '',
      timestamp: signer.clientValue(() => ex.iso8601(ex.nonce())),
    },
    finish(result) {
      const auth = pick(signer.ccxt, result, ...AUTH);
      const headers = {
        'OK-ACCESS-KEY': auth['OK-ACCESS-KEY'],
        'OK-ACCESS-PASSPHRASE': auth['OK-ACCESS-PASSPHRASE'],
        'OK-ACCESS-TIMESTAMP': auth['OK-ACCESS-TIMESTAMP'],
      };
      if (method !== 'GET') headers['Content-Type'] = 'application/json';
      headers['OK-ACCESS-SIGN'] = auth['OK-ACCESS-SIGN'];
      return { url: result.query ? `${url}?${result.query}` : url, method, body, headers };
    },
  };
}

module.exports = { preset: 'okx', prepare, subclasses: ['okxus'] };
