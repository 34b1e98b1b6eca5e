'use strict';
// HTX (test/cases.js): the new spot and contract builders (the contract one on ccxt's
// api.hbdm.vn) and the old v1/v2 one, whose auth parameters ccxt sorts among the caller's.
const { queryOf, reference, adapted, sameRequest, refused } = require('../compare');

module.exports = {
  cred: (rnd) => ({ apiKey: `htx${rnd(8)}`, secret: rnd(24) }),
  // HTX's Timestamp is whole seconds (UTC, no zone).
  stamp: (r) => Date.parse(`${queryOf(r).get('Timestamp')}Z`),
  cases: [
    ['spotPrivateGetV1OrderOpenOrders', { 'account-id': '123', symbol: 'btcusdt', size: '10', types: 'buy-limit,sell-limit' }],
    ['spotPrivatePostV1OrderOrdersPlace', { 'account-id': '123', symbol: 'btcusdt', type: 'buy-limit', amount: '0.01', price: '20000', 'client-order-id': 'apisec-h-1' }],
    // Values that need encoding: the agent signs them re-encoded (RFC 3986), as ccxt does.
    ['spotPrivateGetV1OrderOrdersGetClientOrder', { clientOrderId: 'a b/c+d%e#f\u20ac~*' }],
    ['privateGetOrderOrders', { symbol: 'btcusdt', states: 'filled,canceled', 'start-date': '2026-01-01' }],
    ['v2PrivateGetAccountLedger', { accountId: '123', currency: 'usdt' }],
    ['privatePostOrderOrdersIdSubmitcancel', { id: '59378' }],
    ['contractPrivateGetV5AccountBalance', {}],
    // ccxt's broker tag (channel_code) goes into the caller's params, not the body.
    ['contractPrivatePostSwapApiV1SwapOrder', { contract_code: 'BTC-USD', volume: 1, direction: 'buy', offset: 'open', lever_rate: 5, order_price_type: 'limit', price: '20000' }],
    ['spotPrivatePostV1OrderOrdersPlace', { 'account-id': '123', symbol: 'btcusdt', type: 'buy-market', amount: '5' }],
  ],
  tests: {
    'the Timestamp is ccxt\'s second, truncated as ccxt (JavaScript) truncates': async ({ ccxt, cred, agent, assert }) => {
      const late = require('../cases').T + 500; // .623 s: ccxt's Python would round up, its JavaScript does not
      const method = 'spotPrivateGetV1OrderOpenOrders';
      const params = { symbol: 'btcusdt' };
      const want = await reference(ccxt, cred, late, method, params);
      const { request } = await adapted(ccxt, cred, agent, late, method, params);
      sameRequest(assert, request, want);
      assert.equal(queryOf(request).get('Timestamp'), '2026-01-01T00:00:00');
    },
    'a host the agent does not sign for is ccxt.NotSupported, nothing sent': async ({ ccxt, cred, agent, assert }) => {
      let e = await refused(ccxt, cred, agent, 'privateGetAccountAccounts', {}, (ex) => { ex.hostname = 'api.testnet.huobi.pro'; });
      assert.ok(e instanceof ccxt.NotSupported && /api\.testnet\.huobi\.pro/.test(e.message), e);
      e = await refused(ccxt, cred, agent, 'contractPrivateGetV5AccountBalance', {}, (ex) => { ex.urls.hostnames.contract = 'api.example.com'; });
      assert.ok(e instanceof ccxt.NotSupported && /api\.example\.com/.test(e.message), e);
    },
  },
};
