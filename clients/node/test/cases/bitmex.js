'use strict';
// BitMEX (test/cases.js): ccxt (JavaScript) has a bitmex class in 4.5.76 and 4.5.81 only, not
// in 4.5.84: `versions` names where its cases (pinned and agent-stamped) and tests run
// (test/ccxt-versions.test.js, which fails if any of them did not run there); test/ccxt.test.js
// fails if the newest ccxt has the class again (then drop `versions`).
const LEAD = 5; // ccxt's options.recvWindow (5000 ms) as seconds

module.exports = {
  versions: ['4.5.76', '4.5.81'],
  cred: (rnd) => ({ apiKey: `bm${rnd(8)}`, secret: rnd(24) }),
  // The agent's api-expires is its clock + 10 s, in seconds; ccxt adds its 5 s to its own.
  stamp: (r) => (Number(r.headers['api-expires']) - LEAD) * 1000,
  cases: [
    ['privateGetOrder', { symbol: 'XBTUSD', filter: '{"open": true}', count: 10 }],
    ['privatePostOrder', { symbol: 'XBTUSD', side: 'Buy', orderQty: 100, price: 40000, ordType: 'Limit', clOrdID: 'a b/c+d%e#f\u20ac' }],
    ['privatePutOrder', { orderID: '00000000-0000-0000-0000-000000000001', price: 40500 }],
    ['privateDeleteOrderAll', {}],
    // ccxt's cancelOrder: a DELETE whose parameters travel as a JSON body.
    ['privateDeleteOrder', { orderID: '00000000-0000-0000-0000-000000000001' }],
    ['privateDeleteOrderAll', { symbol: 'XBTUSD', filter: '{"side": "Buy"}' }],
    ['privateGetUserWallet', { currency: 'XBt' }],
    ['privatePostOrder', { symbol: 'XBTUSD', side: 'Sell', orderQty: 1, ordType: 'Market', _format: 'json' }],
    // ccxt signs BitMEX's public endpoints too when it has credentials.
    ['publicGetInstrumentActive', {}],
  ],
};
