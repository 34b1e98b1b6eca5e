'use strict';
// Binance: the request ccxt (4.5.76 to 4.5.84) builds in binance.sign(), signed by the agent.
// ccxt puts `timestamp` first, then the params, then recvWindow, and appends `&signature=`.
// The agent's preset stamps the timestamp where an empty `timestamp=` stands first in the
// query, so the adapter asks for "timestamp=&symbol=..." and gets that string back, encoded
// as Binance requires since 2026-01-15 and signed; it goes in the URL for GET and DELETE, in
// the form body otherwise (Binance signs query + body, so either place keeps it valid).

const { pick, urlPath } = require('./signer');

const SIGNED_APIS = new Set(['private', 'eapiPrivate', 'sapiV2', 'sapiV3', 'sapiV4',
  'dapiPrivate', 'dapiPrivateV2', 'fapiPrivate', 'fapiPrivateV2', 'fapiPrivateV3']);
const USER_DATA_STREAM = ['userDataStream', 'listenKey', 'userListenToken'];

function isSigned(api, path) {
  if (USER_DATA_STREAM.includes(path)) return false;
  return SIGNED_APIS.has(api) || (api === 'sapi' && path !== 'system/status')
    || api === 'papiV2' || (api === 'papi' && path !== 'ping');
}

function prepare(ex, signer, path, api, method, params) {
  const apiName = Array.isArray(api) ? api[0] : api;
  const base = ex.safeString(ex.safeDict(ex.urls, 'api', {}), apiName);
  if (base === undefined || !isSigned(apiName, path)) return null;
  const url = `${base}/${path}`;
  if (url.includes('testnet.binancefuture.com') && ex.isSandboxModeEnabled) return null;
  if (method === 'DELETE' && path === 'batchOrders') {
    throw new signer.ccxt.NotSupported('apisec adapter: DELETE batchOrders is not supported');
  }
  const request = { ...params };
  if (method === 'POST' && (path === 'order' || path === 'sor/order')
      && ex.safeString(request, 'newClientOrderId') === undefined) {
    // ccxt's broker order id, for an order that names none.
    const spot = apiName.includes('sapi') || apiName === 'private';
    const broker = ex.safeDict(ex.options, 'broker', {});
    request.newClientOrderId = ex.safeString(broker, spot ? 'spot' : 'future', spot ? 'x-TKT5PX2F' : 'x-xcKtGhcu') + ex.uuid22();
    params.newClientOrderId = request.newClientOrderId;
  }
  if (path === 'batchOrders' && (method === 'POST' || method === 'PUT')) {
    request.batchOrders = ex.json(ex.safeList(request, 'batchOrders', []));
  }
  const clientTs = request.timestamp;
  delete request.timestamp;
  const defaultWindow = ex.safeInteger(ex.options, 'recvWindow');
  if (defaultWindow !== undefined) request.recvWindow = defaultWindow;
  const window = ex.safeInteger(params, 'recvWindow');
  if (window !== undefined) request.recvWindow = window;
  const encode = apiName === 'sapi' && path === 'asset/dust'
    ? (p) => ex.urlencodeWithArrayRepeat(p) : (p) => ex.urlencode(p);
  const rest = Object.keys(request).length ? encode(request) : '';
  const timestamp = clientTs !== undefined ? String(clientTs) : signer.clientValue(() => ex.nonce());
  return {
    url,
    request: { method, path: urlPath(url), query: `timestamp=${rest ? `&${rest}` : ''}`, body: '', timestamp },
    finish(result) {
      if (!('timestamp' in result.queryAdditions) || !('signature' in result.queryAdditions)) {
        throw new signer.ccxt.ExchangeError('apisec agent reply lacks timestamp/signature for binance');
      }
      const headers = pick(signer.ccxt, result, 'X-MBX-APIKEY');
      if (method === 'GET' || method === 'DELETE') {
        return { url: `${url}?${result.query}`, method, body: undefined, headers };
      }
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      return { url, method, body: result.query, headers };
    },
  };
}

module.exports = { preset: 'binance', prepare, subclasses: ['binanceusdm', 'binancecoinm'] };
