'use strict';
// HTX (Huobi): the request ccxt (4.5.76 to 4.5.84) builds in htx.sign(), signed by the agent
// (preset `htx`).
//
// As ccxt, two request builders. The old endpoints (a one-level API: `private`, `v2Private`)
// go to ex.hostname (api.huobi.pro) at "/v1/" or "/v2/" + path, with the four auth parameters
// (SignatureMethod, SignatureVersion, AccessKeyId, Timestamp) and, except on POST, the
// caller's parameters in one query sorted by name. The new ones (`spot`/`contract` then
// `private`) go to urls.hostnames[type] (spot api.huobi.pro, contract api.hbdm.vn) at "/" +
// path, with the four auth parameters sorted first and then, except on POST, the caller's
// sorted. Both append `Signature`, urlencode every value, and on POST send json(params) as the
// body (`{}` for none on the new ones), which HTX does not sign. ccxt's broker tags
// (channel_code, client-order-id) go into the caller's params after the body's copy was made,
// so they are never sent: the adapter does the same. Headers: Content-Type JSON on POST, form
// otherwise. Timestamp: ccxt's ymdhms(nonce()), which in JavaScript truncates to the second
// (ccxt's Python rounds), "YYYY-MM-DDThh:mm:ss"; the agent truncates its own too.
//
// The agent signs `METHOD\nhost\npath\nsorted query` for the host named (ccxt's hostname) and
// returns the auth parameters, which the adapter places where ccxt places them, encoded as ccxt
// encodes them. Refused (ccxt.NotSupported), nothing sent: another host than the preset's
// (api.huobi.pro, api-aws.huobi.pro, api.hbdm.com, api.hbdm.vn: HTX signs the host) and a
// parameter given several times (the agent refuses a name given twice).

const { repeatedName } = require('./krakenfutures');

const HOSTS = ['api.huobi.pro', 'api-aws.huobi.pro', 'api.hbdm.com', 'api.hbdm.vn'];
const AUTH = ['SignatureMethod', 'SignatureVersion', 'AccessKeyId', 'Timestamp'];

/** ccxt's host of a new-style endpoint: urls.hostnames[type], nested by api[2], api[3]. */
function hostnameOf(ex, api) {
  let hostnames = ex.safeValue(ex.urls.hostnames, ex.safeString(api, 0));
  if (typeof hostnames !== 'string') {
    hostnames = ex.safeValue(hostnames, ex.safeString(api, 2));
    if (typeof hostnames !== 'string' && ex.safeString(api, 3) !== undefined) {
      hostnames = ex.safeValue(hostnames, ex.safeString(api, 3));
    }
  }
  return hostnames;
}

/** ccxt's broker tags, set on the caller's params (not on the body's copy). */
function tagOrder(ex, path, params) {
  if (Array.isArray(params)) return;
  const id = ex.safeString(ex.safeDict(ex.options, 'broker', {}), 'id', 'AA03022abc');
  if (path.indexOf('cancel') === -1 && path.endsWith('order')) {
    if (ex.safeString(params, 'channel_code') === undefined) params.channel_code = id;
  } else if (path.endsWith('orders/place')) {
    if (ex.safeString(params, 'client-order-id') === undefined) params['client-order-id'] = id + ex.uuid();
  }
}

/** ccxt's ymdhms(nonce()) (the second, truncated) in the millisecond ISO form the agent takes. */
function timestamp(ex) {
  return ex.iso8601(Math.floor(ex.nonce() / 1000) * 1000);
}

function prepare(ex, signer, path, api, method, params) {
  const { ccxt } = signer;
  const isArray = Array.isArray(params);
  const query = isArray ? {} : ex.omit(params, ex.extractParams(path));
  let requestPath = '/';
  let hostname;
  let base;
  let together; // the old builder sorts the auth parameters among the caller's
  if (api.length === 1) {
    const apiName = api[0];
    if (apiName !== 'private' && apiName !== 'v2Private') return null;
    requestPath += `${apiName === 'private' ? ex.version : 'v2'}/${ex.implodeParams(path, params)}`;
    hostname = ex.hostname;
    base = ex.safeString(ex.urls.api, apiName);
    together = true;
  } else {
    if (ex.safeString(api, 1) !== 'private') return null;
    hostname = hostnameOf(ex, api);
    requestPath += ex.implodeParams(path, params);
    if (method === 'POST') tagOrder(ex, path, params);
    base = ex.safeString(ex.urls.api, ex.safeString(api, 0));
    together = false;
  }
  if (base === undefined) throw new ccxt.ExchangeError(`${ex.id} sign() has no API URL for this endpoint`);
  if (!HOSTS.includes(hostname)) {
    throw new ccxt.NotSupported(`apisec adapter: htx signs the host; the agent's htx preset knows ${HOSTS.join(', ')}, not ${JSON.stringify(hostname)}`);
  }
  const signed = method === 'POST' ? {} : ex.keysort(query);
  const clientQuery = Object.keys(signed).length > 0 ? ex.urlencode(signed, true) : '';
  const twice = clientQuery ? repeatedName(clientQuery) : undefined;
  if (twice !== undefined) {
    throw new ccxt.NotSupported(`apisec adapter: htx ${path} sends ${JSON.stringify(twice)} several times, which the agent refuses (a name given twice): one value per request`);
  }
  let body;
  let headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (method === 'POST') {
    body = ex.json(isArray ? params : query);
    if (!together && !isArray && body.length === 2) body = '{}';
    headers = { 'Content-Type': 'application/json' };
  }
  const origin = ex.implodeParams(base, { hostname });
  return {
    url: origin + requestPath + (clientQuery ? `?${clientQuery}` : ''),
    request: { method, path: requestPath, query: clientQuery, body: body ?? '', timestamp: signer.clientValue(() => timestamp(ex)), host: hostname },
    finish(result) {
      const additions = result.queryAdditions;
      const missing = [...AUTH, 'Signature'].filter((k) => !(k in additions));
      if (missing.length) throw new ccxt.ExchangeError(`apisec agent reply lacks query parameters ${missing.join(', ')}`);
      // The agent's values, placed as ccxt places its own and encoded as ccxt encodes them.
      const auth = Object.fromEntries(AUTH.map((k) => [k, decodeURIComponent(additions[k])]));
      let authQuery;
      if (together) {
        authQuery = ex.urlencode(ex.keysort(ex.extend(auth, signed)), true);
      } else {
        authQuery = ex.urlencode(ex.keysort(auth), true) + (clientQuery ? `&${clientQuery}` : '');
      }
      authQuery += `&${ex.urlencode({ Signature: decodeURIComponent(additions.Signature) })}`;
      return { url: `${origin + requestPath}?${authQuery}`, method, body, headers };
    },
  };
}

module.exports = { preset: 'htx', prepare };
