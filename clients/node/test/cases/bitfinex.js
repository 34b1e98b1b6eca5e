'use strict';
// Bitfinex (test/cases.js). The agent's nonce is its microseconds, ccxt's nonce() its
// milliseconds: stamp() reads the agent's as milliseconds and reference() gives ccxt the
// agent's nonce itself, as the Python tests do.
let stamped; // the last agent-stamped request's nonce, {millis, nonce}

module.exports = {
  cred: (rnd) => ({ apiKey: `bf${rnd(8)}`, secret: rnd(24) }),
  stamp: (r) => {
    const nonce = r.headers['bfx-nonce'];
    stamped = { millis: Math.floor(Number(nonce) / 1000), nonce };
    return stamped.millis;
  },
  reference: (ex, millis) => {
    if (stamped && stamped.millis === millis) {
      const { nonce } = stamped;
      ex.nonce = () => nonce;
    }
  },
  cases: [
    ['privatePostAuthRWallets', {}],
    ['privatePostAuthWOrderSubmit', { type: 'EXCHANGE LIMIT', symbol: 'tBTCUSD', price: '20000', amount: '0.01' }],
    ['privatePostAuthROrdersSymbol', { symbol: 'tBTCUSD', id: [1, 2] }],
  ],
};
