'use strict';
// MEXC spot (test/cases.js): every parameter in the query, a DELETE's and a POST's too.
const { queryOf } = require('../compare');

module.exports = {
  cred: (rnd) => ({ apiKey: `mx${rnd(8)}`, secret: rnd(24) }),
  stamp: (r) => Number(queryOf(r).get('timestamp')),
  cases: [
    ['spotPrivateGetAccount', {}],
    ['spotPrivatePostOrder', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: '20000', newClientOrderId: 'apisec-m-1' }],
    ['spotPrivateDeleteOrder', { symbol: 'BTCUSDT', origClientOrderId: 'apisec m/1' }],
  ],
};
