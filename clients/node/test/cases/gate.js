'use strict';
// Gate (test/cases.js): its timestamp is whole seconds, read as ccxt's milliseconds() then.
module.exports = {
  cred: (rnd) => ({ apiKey: `gt${rnd(8)}`, secret: rnd(24) }),
  stamp: (r) => Number(r.headers.Timestamp) * 1000,
  cases: [
    ['privateSpotGetOrders', { currency_pair: 'BTC_USDT', status: 'open' }],
    ['privateSpotPostOrders', { currency_pair: 'BTC_USDT', side: 'buy', amount: '0.01', price: '30000', text: 't-apisec' }],
    ['privateFuturesGetSettlePositions', { settle: 'usdt' }],
    ['privateSpotDeleteOrdersOrderId', { order_id: '12345', currency_pair: 'BTC_USDT' }],
  ],
};
