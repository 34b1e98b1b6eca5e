'use strict';
// Kraken Futures (test/cases.js). ccxt signs no nonce; the agent always stamps one and signs
// Kraken's documented Authent, SHA-256(postData + Nonce + endpointPath) under HMAC-SHA512 with
// the base64-decoded secret, sent with a Nonce header. So ccxt's own request is the reference
// with its Authent rebuilt as documented over ccxt's own postData and path (`reference`,
// applied by test/compare.js), and the Nonce header added: ccxt's milliseconds() for the
// pinned clock, the agent's nonce (microseconds) for the agent's.
const crypto = require('node:crypto');

const { refused } = require('../compare');

// The agent's nonce, by the milliseconds stamp() read from it, for the reference at that time.
const nonces = new Map();

function documentedAuthent(secret, postData, nonce, endpointPath) {
  const digest = crypto.createHash('sha256').update(postData + nonce + endpointPath).digest();
  return crypto.createHmac('sha512', Buffer.from(secret, 'base64')).update(digest).digest('base64');
}

module.exports = {
  // Kraken Futures issues base64 secrets (the agent checks at add time).
  cred: (rnd) => ({ apiKey: `kf${rnd(8)}`, secret: crypto.randomBytes(64).toString('base64') }),
  stamp: (r) => {
    const millis = Math.floor(Number(r.headers.Nonce) / 1000);
    nonces.set(millis, r.headers.Nonce);
    return millis;
  },
  reference(ex, millis) {
    const ccxtSign = ex.sign;
    ex.sign = function sign(...args) {
      const req = ccxtSign.apply(this, args);
      if (req.headers && 'Authent' in req.headers) {
        const nonce = nonces.get(millis) ?? String(this.milliseconds());
        const [base, query = ''] = req.url.split('?');
        const postData = req.body !== undefined ? req.body : query;
        const endpointPath = new URL(base).pathname.replace(/^\/derivatives/, '');
        req.headers.Authent = documentedAuthent(this.secret, postData, nonce, endpointPath);
        req.headers.Nonce = nonce;
      }
      return req;
    };
  },
  cases: [
    ['privateGetOpenorders', {}],
    ['privateGetFills', { lastFillTime: '2026-01-01T00:00:00.000Z' }],
    ['privatePostSendorder', { orderType: 'lmt', symbol: 'PF_XBTUSD', side: 'buy', size: '1', limitPrice: '40000', cliOrdId: 'a b/c+d%e#f\u20ac' }],
    // The history API, on its own path (.../api/history/v2/).
    ['historyGetOrders', { since: '1767225600000', sort: 'asc' }],
    ['privatePostEditorder', { orderId: 'o-1', limitPrice: '41000.5' }],
    ['privateGetOrdersStatus', { orderIds: ['a'] }],
  ],
  tests: {
    'orderIds given twice is ccxt.NotSupported, nothing sent': async ({ ccxt, cred, agent, assert }) => {
      const e = await refused(ccxt, cred, agent, 'privateGetOrdersStatus', { orderIds: ['a', 'b'] });
      assert.ok(e instanceof ccxt.NotSupported && /"orderIds" several times/.test(e.message), e);
    },
    'batchorder is ccxt.NotSupported, nothing sent': async ({ ccxt, cred, agent, assert }) => {
      const order = { order: 'send', order_tag: '1', orderType: 'lmt', symbol: 'PF_XBTUSD', side: 'buy', size: 1, limitPrice: 40000 };
      const e = await refused(ccxt, cred, agent, 'privatePostBatchorder', { batchOrder: [order] });
      assert.ok(e instanceof ccxt.NotSupported && /batchorder/.test(e.message), e);
    },
  },
};
