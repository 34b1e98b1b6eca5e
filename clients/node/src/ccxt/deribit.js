'use strict';
// Deribit (v2): the request ccxt (4.5.76 to 4.5.84) builds in deribit.sign(), signed by the
// agent (preset `deribit`).
//
// As ccxt: URL = urls.api.rest + "/api/v2/private/" + path (ccxt's private API is GET only),
// the parameters urlencoded in the query, no body. The signed string is
// `timestamp\nnonce\nMETHOD\nURI\n\n` (URI = path + "?query", the body empty); one header:
// `Authorization: deri-hmac-sha256 id=KEY,ts=T,sig=HEX,nonce=N`. ccxt's timestamp and nonce
// are both its milliseconds(); the agent's timestamp is its milliseconds and its nonce its
// microseconds counter. With clock "ccxt" both are ccxt's (milliseconds(), nonce()).
//
// Every Deribit signature is also a `public/auth` login (grant_type=client_signature, its data
// the request's last lines), so the agent signs only for a secret whose policy says
// `allow_login = true` (`apisec-agent add` refuses a Deribit secret without one).

const { pick } = require('./signer');

function prepare(ex, signer, path, api, method, params) {
  const { ccxt } = signer;
  if (api[0] !== 'private') return null;
  const requestPath = `/api/${ex.version}/private/${path}`;
  const query = Object.keys(params).length > 0 ? ex.urlencode(params) : '';
  const base = ex.safeString(ex.urls.api, 'rest');
  if (base === undefined) throw new ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const url = base + requestPath;
  return {
    url: query ? `${url}?${query}` : url,
    request: {
      method, path: requestPath, query, body: '',
      timestamp: signer.clientValue(() => ex.milliseconds()),
      nonce: signer.clientValue(() => ex.nonce()),
    },
    finish(result) {
      const headers = pick(ccxt, result, 'Authorization');
      return { url: result.query ? `${url}?${result.query}` : url, method, body: undefined, headers };
    },
  };
}

module.exports = { preset: 'deribit', prepare };
