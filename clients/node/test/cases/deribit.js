'use strict';
// Deribit (test/cases.js): every private call a GET with its parameters in the query. Every
// Deribit signature is also a login: its secret signs only with a policy saying
// allow_login = true (`add`, used by addAll). ccxt's nonce is its milliseconds(), the agent's
// its microseconds counter: the reference at the agent's time is given the agent's nonce
// (`reference`, applied by test/compare.js).
const fs = require('node:fs');
const path = require('node:path');

// The agent's nonce, by the timestamp stamp() read beside it.
const nonces = new Map();

function authorization(r) {
  const [scheme, fields] = r.headers.Authorization.split(' ');
  if (scheme !== 'deri-hmac-sha256') throw new Error(`not Deribit's scheme: ${scheme}`);
  return Object.fromEntries(fields.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

module.exports = {
  cred: (rnd) => ({
    apiKey: `dr${rnd(6)}`,
    secret: rnd(24),
    add(env, c, extra) {
      const policy = path.join(env.root, `${c.name}.policy.toml`);
      fs.writeFileSync(policy, 'allow_login = true\n');
      env.add(c.name, c.preset, c.apiKey, c.secret, c.passphrase, [...extra, '--policy', policy]);
    },
  }),
  stamp: (r) => {
    const { ts, nonce } = authorization(r);
    nonces.set(Number(ts), nonce);
    return Number(ts);
  },
  reference(ex, millis) {
    const nonce = nonces.get(millis);
    if (nonce !== undefined) ex.nonce = () => nonce;
  },
  cases: [
    ['privateGetGetAccountSummary', { currency: 'BTC', extended: true }],
    ['privateGetGetOpenOrdersByCurrency', { currency: 'BTC', kind: 'future' }],
    ['privateGetBuy', { instrument_name: 'BTC-PERPETUAL', amount: '10', type: 'limit', price: '40000', label: 'a b/c+d%e#f\u20ac' }],
  ],
};
