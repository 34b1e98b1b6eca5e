'use strict';
// Kraken Futures: the request ccxt (4.5.76 to 4.5.84) builds in krakenfutures.sign(), signed by
// the agent (preset `kraken-futures`).
//
// As ccxt: URL = urls.api[api] + version + "/" + path, the version being the `version`
// parameter, else options.versions[api][METHOD][path], else "v3". Signed are the `private` API
// (.../derivatives/api/) and the paths options.access marks private (the `history` API's
// orders, executions, triggers, account-log, ...: .../api/history/). postData is the
// parameters urlencoded, sent in the query whatever the method (`orderIds` as repeated names).
// Headers: Content-Type form, Accept JSON, APIKey, Authent, then the agent's Nonce.
//
// Where the agent differs: ccxt signs no nonce (an Authent valid for ever); the agent always
// stamps one and signs SHA-256(postData + Nonce + endpointPath) as Kraken documents, so the
// adapter sends its `Nonce` header last. The nonce is the agent's (microseconds); with
// clock "ccxt" it is ccxt's milliseconds(): do not mix the two on one key.
//
// Refused (ccxt.NotSupported), nothing sent: `batchorder` (ccxt sends "json=" + the raw JSON
// as a form body; the agent takes a form body only URL-encoded) and a parameter given twice
// (an `orderIds` list of more than one id), which the agent refuses.

const { pick, urlPath } = require('./signer');

/** The first parameter name `query` carries twice (the agent refuses one), else undefined. */
function repeatedName(query) {
  const seen = new Set();
  for (const pair of query.split('&')) {
    const name = pair.split('=', 1)[0];
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

function prepare(ex, signer, path, api, method, params) {
  const { ccxt } = signer;
  const apiName = api[0];
  const versions = ex.safeDict(ex.safeDict(ex.options.versions, apiName, {}), method, {});
  const version = ex.safeString(params, 'version', ex.safeString(versions, path, ex.version));
  const withoutVersion = ex.omit(params, 'version');
  const accessOf = ex.safeDict(ex.safeDict(ex.options.access, apiName, {}), method, {});
  if (apiName !== 'private' && ex.safeString(accessOf, path, 'public') !== 'private') return null;
  if (path === 'batchorder') {
    throw new ccxt.NotSupported('apisec adapter: krakenfutures batchorder sends json=<raw JSON> as its body, which the agent\'s kraken-futures preset refuses (a form body must be URL-encoded): place, edit and cancel the orders one by one (sendorder, editorder, cancelorder)');
  }
  const endpoint = `${version}/${ex.implodeParams(path, withoutVersion)}`;
  const rest = ex.omit(withoutVersion, ex.extractParams(path));
  let query = '';
  if (Object.keys(rest).length > 0) {
    query = 'orderIds' in rest ? ex.urlencodeWithArrayRepeat(rest) : ex.urlencode(rest);
  }
  const twice = query ? repeatedName(query) : undefined;
  if (twice !== undefined) {
    throw new ccxt.NotSupported(`apisec adapter: krakenfutures ${path} sends ${JSON.stringify(twice)} several times, which the agent refuses (no exchange documents which one it acts on): one value per request`);
  }
  const base = ex.safeString(ex.urls.api, apiName);
  if (base === undefined) throw new ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const url = base + endpoint;
  return {
    url: query ? `${url}?${query}` : url,
    request: { method, path: urlPath(url), query, body: '', nonce: signer.clientValue(() => ex.milliseconds()) },
    finish(result) {
      const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
      Object.assign(headers, pick(ccxt, result, 'APIKey', 'Authent', 'Nonce'));
      return { url: result.query ? `${url}?${result.query}` : url, method, body: undefined, headers };
    },
  };
}

module.exports = { preset: 'kraken-futures', prepare, repeatedName };
