'use strict';
// Bybit (test/cases.js): a GET without parameters still ends its URL with "?".
module.exports = {
  cred: (rnd) => ({ apiKey: `by${rnd(8)}`, secret: rnd(24) }),
  stamp: (r) => Number(r.headers['X-BAPI-TIMESTAMP']),
  cases: [
    ['privateGetV5AccountWalletBalance', { accountType: 'UNIFIED', coin: 'BTC' }],
    ['privateGetV5OrderRealtime', {}],
    ['privatePostV5OrderCreate', { category: 'spot', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.01', price: '20000' }],
    ['privateGetV5PositionList', { category: 'linear', symbol: 'BTCUSDT' }],
  ],
};
