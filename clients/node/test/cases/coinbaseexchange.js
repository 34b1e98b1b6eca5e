'use strict';
// Coinbase Exchange (test/cases.js): secrets are base64. ccxt stamps whole seconds, the agent
// milliseconds too ("1767225600.123"): stamp() reads that exactly, and reference() gives ccxt
// the agent's value itself, as the Python tests do.
const crypto = require('node:crypto');

let stamped; // the last agent-stamped request's timestamp, {millis, text}

module.exports = {
  cred: (rnd) => ({ apiKey: `cb${rnd(8)}`, secret: crypto.randomBytes(64).toString('base64'), passphrase: 'cb-pass-4' }),
  stamp: (r) => {
    const text = r.headers['CB-ACCESS-TIMESTAMP'];
    const [secs, frac = ''] = text.split('.');
    stamped = { millis: Number(secs) * 1000 + Number(frac.padEnd(3, '0').slice(0, 3)), text };
    return stamped.millis;
  },
  reference: (ex, millis) => {
    if (stamped && stamped.millis === millis) {
      const { text } = stamped;
      ex.nonce = () => text;
    }
  },
  cases: [
    ['privateGetOrders', { status: 'open', product_id: 'BTC-USD' }],
    ['privatePostOrders', { product_id: 'BTC-USD', side: 'buy', type: 'limit', price: '20000', size: '0.01' }],
    ['privateGetAccounts', {}],
  ],
};
