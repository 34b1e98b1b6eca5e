'use strict';
// Kraken (test/cases.js): secrets are base64 (the agent checks at add time). The agent's nonce
// is its microseconds, ccxt's nonce() its milliseconds: stamp() reads the agent's as
// milliseconds and reference() gives ccxt the agent's nonce itself, as the Python tests do.
const crypto = require('node:crypto');

let stamped; // the last agent-stamped request's nonce, {millis, nonce}

function nonceOf(r) {
  const body = r.body || '';
  if (body.startsWith('{')) return JSON.parse(body).nonce;
  return new URLSearchParams(body).get('nonce');
}

module.exports = {
  cred: (rnd) => ({ apiKey: `kr${rnd(8)}`, secret: crypto.randomBytes(64).toString('base64') }),
  stamp: (r) => {
    const nonce = nonceOf(r);
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
    ['privatePostBalance', {}],
    ['privatePostAddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '37500', volume: '1.25' }],
    // JSON (ccxt's choice for a batch): the agent's nonce first in the object, as ccxt puts it.
    ['privatePostAddOrderBatch', { pair: 'XBTUSD', orders: [{ ordertype: 'limit', price: '40000', type: 'buy', volume: '1.2', cl_ord_id: '\u20ac a=b' }] }],
    ['privatePostCancelOrder', { txid: 'OQCLML-BW3P3-BUCMWZ' }],
  ],
};
