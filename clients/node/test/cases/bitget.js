'use strict';
// Bitget (test/cases.js): the cases are ccxt implicit API methods, with values that need encoding.
module.exports = {
  cred: (rnd) => ({ apiKey: `bg_${rnd(6)}`, secret: rnd(24), passphrase: 'bg-pass-1' }),
  // Where the request carries the time the agent stamped, as ccxt's milliseconds() value.
  stamp: (r) => Number(r.headers['ACCESS-TIMESTAMP']),
  cases: [
    ['privateSpotGetV2SpotAccountAssets', { coin: 'USDT' }],
    ['privateSpotGetV2SpotTradeUnfilledOrders', { symbol: 'BTCUSDT,ETHUSDT', limit: '10' }],
    ['privateSpotGetV2SpotTradeUnfilledOrders', { clientOid: 'a b/c+d%e#f\u20ac', symbol: '' }],
    ['privateSpotPostV2SpotTradePlaceOrder', { symbol: 'BTCUSDT', side: 'buy', orderType: 'limit', force: 'gtc', price: '23222.5', size: '1' }],
  ],
};
