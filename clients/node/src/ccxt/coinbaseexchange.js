'use strict';
// Coinbase Exchange: the request ccxt (4.5.76 to 4.5.84) builds in coinbaseexchange.sign(),
// signed by the agent (preset `coinbase-exchange`).
// URL = urls.api[api] + "/" + path; a GET sends its parameters percent-encoded in the query,
// other methods json(params) as the body (none when there are no parameters). The signed
// string is `timestamp + METHOD + path(?query) + body`. Headers: CB-ACCESS-KEY, -SIGN,
// -TIMESTAMP, -PASSPHRASE (sent in clear, by Coinbase's design; the agent holds it),
// Content-Type JSON. The agent stamps its timestamp with milliseconds (`1767225600.123`), which
// Coinbase takes; ccxt (and the adapter with clock "ccxt") sends whole seconds.

const { pick } = require('./signer');

const AUTH = ['CB-ACCESS-KEY', 'CB-ACCESS-SIGN', 'CB-ACCESS-TIMESTAMP', 'CB-ACCESS-PASSPHRASE'];

function prepare(ex, signer, path, api, method, params) {
  const apiName = api[0];
  if (apiName !== 'private') return null;
  const requestPath = `/${ex.implodeParams(path, params)}`;
  const query = ex.omit(params, ex.extractParams(path));
  const base = ex.safeString(ex.urls.api, apiName);
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const filled = Object.keys(query).length > 0;
  const queryString = method === 'GET' && filled ? ex.urlencode(query) : '';
  const body = method !== 'GET' && filled ? ex.json(query) : undefined;
  const url = ex.implodeHostname(base) + requestPath;
  return {
    url: queryString ? `${url}?${queryString}` : url,
    request: { method, path: requestPath, query: queryString, body: body ?? '', timestamp: signer.clientValue(() => ex.nonce()) },
    finish(result) {
      const headers = pick(signer.ccxt, result, ...AUTH);
      headers['Content-Type'] = 'application/json';
      return { url: result.query ? `${url}?${result.query}` : url, method, body, headers };
    },
  };
}

module.exports = { preset: 'coinbase-exchange', prepare };
