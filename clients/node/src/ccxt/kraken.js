'use strict';
// Kraken spot: the request ccxt (4.5.76 to 4.5.84) builds in kraken.sign(), signed by the agent.
// URL = host + "/0/private/" + path, always POST; the body is urlencodeNested({nonce, ...params})
// with the nonce first, which is what the agent's preset builds from the params' form (it puts
// "nonce=N&" in front and returns the body). CancelOrderBatch, AddOrderBatch and percent trigger
// prices go as JSON (json({nonce, ...params}), the nonce a string and first): the agent puts its
// nonce first in a JSON object body the same way. Headers: API-Key, API-Sign, Content-Type
// (form or JSON). The agent's nonce is microseconds, ccxt's (nonce()) milliseconds: do not mix
// the two clocks on one key (a later smaller nonce is "EAPI:Invalid nonce"). A caller's own
// `nonce` parameter keeps ccxt's first position and goes to the agent as the client's nonce.

const { pick } = require('./signer');

const JSON_PATHS = ['CancelOrderBatch', 'AddOrderBatch'];

function prepare(ex, signer, path, api, method, params) {
  const apiName = api[0];
  if (apiName !== 'private') return null;
  const price = ex.safeString(params, 'price');
  const asJson = JSON_PATHS.includes(path) || (price !== undefined && price.endsWith('%'));
  const requestPath = `/${ex.version}/${apiName}/${path}`;
  const base = ex.safeString(ex.urls.api, apiName);
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const own = ex.safeString(params, 'nonce');
  const rest = ex.omit(params, 'nonce');
  const form = asJson ? ex.json(rest) : ex.urlencodeNested(rest);
  const nonce = own !== undefined ? own : signer.clientValue(() => ex.nonce());
  const url = base + requestPath;
  return {
    url,
    request: { method, path: requestPath, query: '', body: form, nonce },
    finish(result) {
      if (result.body === null || result.body === undefined) {
        throw new signer.ccxt.ExchangeError('apisec agent did not return kraken\'s body with the nonce');
      }
      const headers = pick(signer.ccxt, result, 'API-Key', 'API-Sign');
      headers['Content-Type'] = asJson ? 'application/json' : 'application/x-www-form-urlencoded';
      return { url, method, body: result.body.toString('utf8'), headers };
    },
  };
}

module.exports = { preset: 'kraken', prepare };
