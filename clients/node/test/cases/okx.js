'use strict';
// OKX (test/cases.js). A single order is tagged by ccxt after its body is built (the tag is
// not sent); a batch names its clOrdIds, so ccxt tags none (its uuid16 is random).
module.exports = {
  cred: (rnd) => ({ apiKey: `okx-${rnd(6)}`, secret: rnd(24), passphrase: 'okx-Pass#2' }),
  stamp: (r) => Date.parse(r.headers['OK-ACCESS-TIMESTAMP']),
  cases: [
    ['privateGetAccountBalance', { ccy: 'BTC,ETH' }],
    ['privatePostTradeOrder', { instId: 'BTC-USDT', tdMode: 'cash', side: 'buy', ordType: 'limit', px: '20000', sz: '0.01' }],
    ['privatePostTradeBatchOrders', [
      { instId: 'BTC-USDT', tdMode: 'cash', side: 'buy', ordType: 'limit', px: '20000', sz: '0.01', clOrdId: 'apisecb1' },
      { instId: 'ETH-USDT', tdMode: 'cash', side: 'sell', ordType: 'limit', px: '3000', sz: '0.1', clOrdId: 'apisecb2' },
    ]],
    ['privateGetTradeOrdersHistory', { instType: 'SPOT', instId: 'BTC-USDT', limit: '5' }],
  ],
};
