'use strict';
// Binance (test/cases.js).
const { queryOf } = require('../compare');

module.exports = {
  cred: (rnd) => ({ apiKey: `bn${rnd(16)}`, secret: rnd(24) }),
  stamp: (r) => Number(queryOf(r).get('timestamp')),
  cases: [
    ['privateGetAccount', { omitZeroBalances: true }],
    ['privateGetOpenOrders', {}],
    ['privatePostOrder', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01', price: '20000', newClientOrderId: 'apisec-test-1' }],
    ['privateGetMyTrades', { symbol: 'BTCUSDT', fromId: '1', limit: '5' }],
  ],
};
