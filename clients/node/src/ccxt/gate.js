'use strict';
// Gate (v4): the request ccxt (4.5.76 to 4.5.84) builds in gate.sign(), signed by the agent.
// URL = urls.api.private[type] + "/" + type + "/" + path (sub-accounts and withdrawals without
// the type); GET, DELETE, PATCH and the futures/delivery POSTs on `dual` and `positions` carry
// the parameters in the query, percent-encoded (a `currencies` list with its commas left raw),
// PATCH also in the JSON body; other methods send json(params) as the body, and a `query`
// member of the parameters in the URL. The signed string is Gate's (`METHOD\n/api/v4 path\n
// query\nsha512(body)\ntimestamp`) with the query decoded, and the agent signs a POST's query
// too, as Gate documents (ccxt leaves it out of its signature). Headers: KEY, Timestamp, SIGN,
// Content-Type JSON, and X-Gate-Size-Decimal on futures when the installed ccxt sends it (its
// Python side does after 4.5.83; its JavaScript side up to 4.5.84 does not). Parameters that
// are a list (batch cancels, createOrders) are refused with ccxt.NotSupported.

const { pick } = require('./signer');

const sizeDecimal = new WeakMap(); // ccxt's sign() -> whether it sends X-Gate-Size-Decimal

function sendsSizeDecimal(ex) {
  const own = Object.getPrototypeOf(ex).sign;
  if (!sizeDecimal.has(own)) sizeDecimal.set(own, own.toString().includes('X-Gate-Size-Decimal'));
  return sizeDecimal.get(own);
}

function prepare(ex, signer, path, api, method, params) {
  if (api[0] !== 'private') return null;
  if (Array.isArray(params)) {
    throw new signer.ccxt.NotSupported('apisec adapter: gate requests whose parameters are a list (batch cancels, batch orders) are not supported');
  }
  const kind = api[1];
  let query = ex.omit(params, ex.extractParams(path));
  const imploded = ex.implodeParams(path, params);
  const end = imploded === '' ? '' : `/${imploded}`;
  const entire = kind === 'subAccounts' || kind === 'withdrawals' ? end : `/${kind}${end}`;
  const base = ex.safeString(ex.safeDict(ex.urls.api, 'private', {}), kind);
  if (base === undefined) throw new signer.ccxt.NotSupported(`${ex.id} does not have a URL for the ${kind} market type`);
  let queryString = '';
  let body;
  let onQuery = method === 'GET' || method === 'DELETE' || method === 'PATCH';
  if ((kind === 'futures' || kind === 'delivery') && method === 'POST') {
    const second = ex.safeString(imploded.split('/'), 1, '');
    onQuery = second.includes('dual') || second.includes('positions');
  }
  if (onQuery) {
    if (Object.keys(query).length > 0) {
      queryString = ex.urlencode(query, true);
      if (queryString.includes('currencies=') && queryString.includes('%2C')) {
        queryString = queryString.replaceAll('%2C', ',');
      }
    }
    if (method === 'PATCH') body = ex.json(query);
  } else {
    const inUrl = ex.safeDict(query, 'query', {});
    if (Object.keys(inUrl).length > 0) queryString = ex.urlencode(inUrl);
    query = ex.omit(query, 'query');
    body = ex.json(query);
  }
  const signedPath = `/api/${ex.version}${entire}`;
  const url = base + entire;
  return {
    url: queryString ? `${url}?${queryString}` : url,
    request: {
      method, path: signedPath, query: queryString, body: body ?? '',
      timestamp: signer.clientValue(() => ex.parseToInt(ex.nonce() / 1000)),
    },
    finish(result) {
      const headers = pick(signer.ccxt, result, 'KEY', 'Timestamp', 'SIGN');
      headers['Content-Type'] = 'application/json';
      if (kind === 'futures' && sendsSizeDecimal(ex)) headers['X-Gate-Size-Decimal'] = '1';
      return { url: result.query ? `${url}?${result.query}` : url, method, body, headers };
    },
  };
}

module.exports = { preset: 'gate', prepare };
