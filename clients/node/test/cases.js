'use strict';
// The requests every ccxt version's own signing is compared with (test/ccxt.test.js and
// test/ccxt-versions.test.js): ccxt's implicit API methods, with values that need encoding.

const T = 1767225600123; // 2026-01-01T00:00:00.123Z: the pinned clock

const CASES = [
  ['bitget', 'privateSpotGetV2SpotAccountAssets', { coin: 'USDT' }],
  ['bitget', 'privateSpotGetV2SpotTradeUnfilledOrders', { symbol: 'BTCUSDT,ETHUSDT', limit: '10' }],
  ['bitget', 'privateSpotGetV2SpotTradeUnfilledOrders', { clientOid: 'a b/c+d%e#f\u20ac', symbol: '' }],
  ['bitget', 'privateSpotPostV2SpotTradePlaceOrder', { symbol: 'BTCUSDT', side: 'buy', orderType: 'limit', force: 'gtc', price: '23222.5', size: '1' }],
  ['binance', 'privateGetAccount', { omitZeroBalances: true }],
  ['binance', 'privateGetOpenOrders', {}],
  ['binance', 'privatePostOrder', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01', price: '20000', newClientOrderId: 'apisec-test-1' }],
  ['binance', 'privateGetMyTrades', { symbol: 'BTCUSDT', fromId: '1', limit: '5' }],
];

module.exports = { T, CASES };
