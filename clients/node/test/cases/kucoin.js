'use strict';
// KuCoin (test/cases.js). ccxt puts the query in its URL raw (a "#" would cut it, a space
// break the request line); the adapter sends it percent-encoded; both sign it decoded, as
// KuCoin's docs say: sent() takes ccxt's request with the adapter's URL once that decodes to
// ccxt's own.
module.exports = {
  cred: (rnd) => ({ apiKey: `kc${rnd(8)}`, secret: rnd(24), passphrase: 'kc-pass-3' }),
  stamp: (r) => Number(r.headers['KC-API-TIMESTAMP']),
  sent: (got, want, assert) => {
    assert.equal(decodeURIComponent(got.url), want.url);
    return { ...want, url: got.url };
  },
  cases: [
    ['privateGetAccounts', { currency: 'USDT', type: 'trade' }],
    ['privateGetOrders', { clientOid: 'a b/c+d%e#f\u20ac', status: 'active' }],
    ['privatePostOrders', { clientOid: 'apisec-1', side: 'buy', symbol: 'BTC-USDT', type: 'limit', price: '20000', size: '0.01' }],
    ['privateDeleteOrdersOrderId', { orderId: '5bd6e9286d99522a52e458de' }],
  ],
};
