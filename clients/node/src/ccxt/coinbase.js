'use strict';
// Coinbase Advanced Trade (CDP keys): the request ccxt (4.5.76 to 4.5.84) builds in
// coinbase.sign(), signed by the agent (preset `coinbase-advanced`).
//
// As ccxt: URL = urls.api.rest + "/api/v3/" + path for the v3 API, "/v2/" + path for v2; a GET
// sends its parameters in the query (lists as repeated names), other methods json(params) as
// the body when there are any. Headers: `Authorization: Bearer <JWT>` then `Content-Type:
// application/json`. The JWT names the request in its `uri` claim ("METHOD api.coinbase.com/
// path", no query), so neither query nor body is signed. An `Authorization` header the caller
// set on the instance is ccxt's own case (sent as it is, no secret used): left to ccxt.
//
// Where the agent differs: its JWT is Coinbase's own SDK's (coinbase-advanced-py): `iss:
// "cdp"`, no `aud` nor `iat` (ccxt writes the legacy `iss: "coinbase-cloud"`, `aud`, `iat`;
// with an Ed25519 key `uris` where the agent writes `uri`); its nonce is the agent's. With clock
// "ccxt" the JWT's time (`nbf`) is ccxt's seconds(), the nonce still the agent's.
//
// Refused (ccxt.NotSupported), nothing sent: another host than api.coinbase.com (the JWT names
// that host) and a GET parameter given several times (the agent refuses a name given twice).
// Coinbase's legacy HMAC keys (ccxt's CB-ACCESS-* headers) are not this preset's: it holds CDP
// keys only.

const { pick } = require('./signer');
const { repeatedName } = require('./krakenfutures');

const HOST = 'api.coinbase.com';

function prepare(ex, signer, path, api, method, params) {
  const { ccxt } = signer;
  if (ex.safeString(api, 1) !== 'private') return null;
  // ccxt sends a caller-set Authorization as it is, without the secret: its own sign() does.
  if (ex.safeString(ex.headers, 'Authorization') !== undefined) return null;
  const pathPart = ex.safeString(api, 0) === 'v3' ? 'api/v3' : 'v2';
  const fullPath = `/${pathPart}/${ex.implodeParams(path, params)}`;
  const query = ex.omit(params, ex.extractParams(path));
  const any = Object.keys(query).length > 0;
  const queryString = method === 'GET' && any ? ex.urlencodeWithArrayRepeat(query) : '';
  const apiUrl = ex.safeString(ex.urls.api, 'rest');
  if (apiUrl === undefined) throw new ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  if (new URL(apiUrl).hostname !== HOST) {
    throw new ccxt.NotSupported(`apisec adapter: coinbase-advanced JWTs name the host ${HOST}, not ${apiUrl}`);
  }
  const twice = queryString ? repeatedName(queryString) : undefined;
  if (twice !== undefined) {
    throw new ccxt.NotSupported(`apisec adapter: coinbase ${path} sends ${JSON.stringify(twice)} several times, which the agent refuses (a name given twice): one value per request`);
  }
  const body = method !== 'GET' && any ? ex.json(query) : undefined;
  const url = apiUrl + fullPath;
  return {
    url: queryString ? `${url}?${queryString}` : url,
    request: { method, path: fullPath, query: queryString, body: body ?? '', timestamp: signer.clientValue(() => ex.seconds()) },
    finish(result) {
      const headers = { ...pick(ccxt, result, 'Authorization'), 'Content-Type': 'application/json' };
      return { url: result.query ? `${url}?${result.query}` : url, method, body, headers };
    },
  };
}

module.exports = { preset: 'coinbase-advanced', prepare };
