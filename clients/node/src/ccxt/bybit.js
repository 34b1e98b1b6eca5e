'use strict';
// Bybit: the request ccxt (4.5.76 to 4.5.84) builds in bybit.sign() for the v5 (and v3
// unified/contract) private endpoints, signed by the agent.
// URL = host + "/" + path; GET (and every method but POST) sends rawencode(params), NOT
// percent-encoded, after "?", even when there are none; POST sends json(params). Bybit signs
// timestamp + key + recvWindow + payload. Headers: Content-Type, X-BAPI-API-KEY,
// X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW, [X-BAPI-SIGN-TYPE: 2 on v3], X-BAPI-SIGN; a POST adds
// Referer (ccxt's broker id; ccxt 4.5.76 only when options.brokerId is set, later ones "CCXT"
// when it is not). The agent signs with its own fixed recv window: a ccxt options.recvWindow
// that differs is refused (ccxt.NotSupported) rather than sent with a wrong signature. The
// legacy (`api_key=` in the query) and openapi schemes are refused too.

const { pick, urlPath } = require('./signer');

const AUTH = ['X-BAPI-API-KEY', 'X-BAPI-TIMESTAMP', 'X-BAPI-SIGN', 'X-BAPI-RECV-WINDOW'];
const defaultsReferer = new WeakMap(); // ccxt's sign() -> whether it sends Referer: CCXT unasked

function referer(ex) {
  const own = Object.getPrototypeOf(ex).sign;
  if (!defaultsReferer.has(own)) {
    defaultsReferer.set(own, /safeString\(this\.options,\s*'brokerId',\s*'CCXT'\)/.test(own.toString()));
  }
  const brokerId = ex.safeString(ex.options, 'brokerId');
  if (brokerId === undefined && defaultsReferer.get(own)) return 'CCXT';
  return brokerId;
}

function prepare(ex, signer, path, api, method, params) {
  const apiName = api[0];
  if (apiName !== 'private') return null;
  const base = ex.safeString(ex.urls.api, apiName);
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  let url = `${ex.implodeHostname(base)}/${path}`;
  const isV3 = url.includes('unified/v3') || url.includes('contract/v3');
  if (url.includes('openapi') || !(isV3 || url.includes('v5'))) {
    throw new signer.ccxt.NotSupported(`apisec adapter: bybit endpoint ${path} uses a legacy scheme`);
  }
  const query = ex.extend({}, params);
  let body;
  let signedQuery = '';
  if (method === 'POST') {
    body = ex.json(query);
  } else {
    signedQuery = ex.rawencode(query);
    url += `?${signedQuery}`;
  }
  return {
    url,
    request: { method, path: urlPath(url), query: signedQuery, body: body ?? '', timestamp: signer.clientValue(() => ex.nonce()) },
    finish(result) {
      const auth = pick(signer.ccxt, result, ...AUTH);
      const window = String(ex.options.recvWindow);
      if (auth['X-BAPI-RECV-WINDOW'] !== window) {
        throw new signer.ccxt.NotSupported(`apisec agent signs bybit requests with recvWindow ${auth['X-BAPI-RECV-WINDOW']}; set exchange.options.recvWindow to it (it is ${window})`);
      }
      const headers = { 'Content-Type': 'application/json' };
      for (const name of ['X-BAPI-API-KEY', 'X-BAPI-TIMESTAMP', 'X-BAPI-RECV-WINDOW']) headers[name] = auth[name];
      if (isV3) headers['X-BAPI-SIGN-TYPE'] = '2';
      headers['X-BAPI-SIGN'] = auth['X-BAPI-SIGN'];
      if (method === 'POST') {
        const brokerId = referer(ex);
        if (brokerId !== undefined) headers.Referer = brokerId;
      }
      // The query as ccxt sends it (raw), which is what the agent signed (decoded).
      return { url, method, body, headers };
    },
  };
}

module.exports = { preset: 'bybit', prepare };
