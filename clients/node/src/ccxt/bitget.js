'use strict';
// Bitget: the request ccxt (4.5.76 to 4.5.84) builds in bitget.sign(), signed by the agent.
// Private URL = api[1]'s host + "/api/" + path; POST sends json(params) as the body; other
// methods send the params key-sorted in the query, percent-encoded with "%24" turned back into
// "$"; the agent signs the query decoded, as Bitget's own SDK does. Headers: the four ACCESS-*
// values, X-CHANNEL-API-CODE (ccxt's broker option), Content-Type on POST, PAPTRADING=1 in
// sandbox mode. The agent's extra `locale` header is not sent, as ccxt sends none.

const { pick } = require('./signer');

const AUTH = ['ACCESS-KEY', 'ACCESS-SIGN', 'ACCESS-TIMESTAMP', 'ACCESS-PASSPHRASE'];
const NO_SANDBOX_HEADER = ['v2/public/time', 'v3/market/current-fund-rate'];
const SANDBOX_EXEMPT = ['SCOIN-FUTURES', 'SUSDT-FUTURES', 'SUSDC-FUTURES'];

function prepare(ex, signer, path, api, method, params) {
  if (api[0] !== 'private') return null;
  const requestPath = `/api/${ex.implodeParams(path, params)}`;
  const base = ex.safeString(ex.urls.api, api[1]);
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const url = ex.implodeHostname(base) + requestPath;
  let body;
  let query = '';
  if (method === 'POST') {
    body = ex.json(params);
  } else if (Object.keys(params).length > 0) {
    query = ex.urlencode(ex.keysort(params), true).replace('%24', '$');
  }
  return {
    url: query ? `${url}?${query}` : url,
    request: { method, path: requestPath, query, body: body ?? '', timestamp: signer.clientValue(() => ex.nonce()) },
    finish(result) {
      const headers = pick(signer.ccxt, result, ...AUTH);
      headers['X-CHANNEL-API-CODE'] = ex.safeString(ex.options, 'broker');
      if (method === 'POST') headers['Content-Type'] = 'application/json';
      const sandbox = ex.safeBool2(ex.options, 'sandboxMode', 'sandbox', false);
      if (sandbox && !NO_SANDBOX_HEADER.includes(path)
          && !SANDBOX_EXEMPT.includes(ex.safeString(params, 'productType'))) {
        headers.PAPTRADING = '1';
      }
      return { url: result.query ? `${url}?${result.query}` : url, method, body, headers };
    },
  };
}

module.exports = { preset: 'bitget', prepare };
