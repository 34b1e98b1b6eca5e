'use strict';
// KuCoin: the request ccxt (4.5.76 to 4.5.84) builds in kucoin.sign(), signed by the agent;
// kucoinfutures is the same code.
// The version comes from options.versions[api][method][path] (or a `version` param); GET and
// DELETE carry the params after "?" (ccxt sends them raw, unencoded, which a "#" or a space
// would break; the adapter sends them percent-encoded, and the agent signs them decoded, as
// KuCoin's docs say: "the URL must use the content that has not been URL-encoded"); other
// methods send json(params) with Content-Type (the classic UTA order endpoints also carry
// ?tradeType=). Headers in ccxt's order: KC-API-KEY-VERSION, KC-API-KEY, KC-API-TIMESTAMP,
// [Content-Type], KC-API-PASSPHRASE (signed, key version 2), KC-API-SIGN, then ccxt's partner
// headers. The partner signature uses ccxt's published partner key (ccxt's options, not the
// user's secret), so it is computed here, over the timestamp the agent stamped.

const crypto = require('node:crypto');

const { pick } = require('./signer');

const SIGNED_APIS = ['private', 'futuresPrivate', 'broker', 'earn', 'utaPrivate'];
const CLASSIC_UTA = ['/api/ua/v1/classic/order/place', '/api/ua/v1/classic/order/place/batch',
  '/api/ua/v1/classic/order/cancel', '/api/ua/v1/classic/order/cancel/batch'];
const AUTH = ['KC-API-KEY-VERSION', 'KC-API-KEY', 'KC-API-TIMESTAMP', 'KC-API-PASSPHRASE', 'KC-API-SIGN'];

function endpointFor(ex, apiName, path, method, params) {
  const versions = ex.safeDict(ex.options, 'versions', {});
  const methodVersions = ex.safeDict(ex.safeDict(versions, apiName, {}), method, {});
  const version = ex.safeString(params, 'version', ex.safeString(methodVersions, path, ex.options.version));
  const imploded = ex.implodeParams(path, ex.omit(params, 'version'));
  if (apiName === 'earn') return `/api/v1/${imploded}`;
  if (apiName === 'utaPrivate') return `/api/ua/v1/${imploded}`;
  return `/api/${version}/${imploded}`;
}

function partnerHeaders(ex, apiName, tradeType, timestamp, apiKey) {
  let partner = ex.safeDict(ex.options, 'partner', {});
  const futures = apiName === 'futuresPrivate' || (apiName === 'utaPrivate' && tradeType === 'FUTURES');
  partner = ex.safeValue(partner, futures ? 'future' : 'spot', partner);
  const id = ex.safeString(partner, 'id');
  const secret = ex.safeString2(partner, 'secret', 'key');
  const out = {};
  if (id !== undefined && secret !== undefined) {
    out['KC-API-PARTNER-SIGN'] = crypto.createHmac('sha256', Buffer.from(secret, 'utf8'))
      .update(timestamp + id + apiKey, 'utf8').digest('base64');
    out['KC-API-PARTNER'] = id;
    out['KC-API-PARTNER-VERIFY'] = 'true';
  }
  if (apiName === 'broker') {
    const name = ex.safeString(partner, 'name');
    if (name !== undefined) out['KC-BROKER-NAME'] = name;
  }
  return out;
}

function prepare(ex, signer, path, api, method, params) {
  const apiName = ex.safeString(api, 0);
  if (!SIGNED_APIS.includes(apiName)) return null;
  let endpoint = endpointFor(ex, apiName, path, method, params);
  const query = ex.omit(ex.omit(params, 'version'), ex.extractParams(path));
  const base = ex.safeString(ex.urls.api, apiName);
  if (base === undefined) throw new signer.ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  const tradeType = ex.safeString(query, 'tradeType');
  let body;
  let json = false;
  if (!ex.isEmpty(query)) {
    if ((method === 'GET' || method === 'DELETE') && path !== 'orders/multi-cancel') {
      endpoint += `?${ex.urlencode(query)}`;
    } else {
      if (CLASSIC_UTA.includes(endpoint)) endpoint += `?tradeType=${tradeType}`;
      body = ex.json(query);
      json = true;
    }
  }
  const cut = endpoint.indexOf('?');
  const signedPath = cut < 0 ? endpoint : endpoint.slice(0, cut);
  const signedQuery = cut < 0 ? '' : endpoint.slice(cut + 1);
  return {
    url: base + endpoint,
    request: { method, path: signedPath, query: signedQuery, body: body ?? '', timestamp: signer.clientValue(() => ex.nonce()) },
    finish(result) {
      const auth = pick(signer.ccxt, result, ...AUTH);
      const headers = {
        'KC-API-KEY-VERSION': auth['KC-API-KEY-VERSION'],
        'KC-API-KEY': auth['KC-API-KEY'],
        'KC-API-TIMESTAMP': auth['KC-API-TIMESTAMP'],
      };
      if (json) headers['Content-Type'] = 'application/json';
      headers['KC-API-PASSPHRASE'] = auth['KC-API-PASSPHRASE'];
      headers['KC-API-SIGN'] = auth['KC-API-SIGN'];
      Object.assign(headers, partnerHeaders(ex, apiName, tradeType, auth['KC-API-TIMESTAMP'], auth['KC-API-KEY']));
      const sent = signedPath + (result.query ? `?${result.query}` : '');
      return { url: base + sent, method, body, headers };
    },
  };
}

module.exports = { preset: 'kucoin', prepare, subclasses: ['kucoinfutures'] };
