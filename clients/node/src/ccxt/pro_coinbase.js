'use strict';
// Coinbase Exchange and Coinbase Advanced on ccxt.pro: their login fields go into the subscribe
// messages, which ccxt.pro builds synchronously (`authenticate()`, `createWSAuth()`): those now
// return PENDING fields, which the agent's login fills in when ccxt sends the message (a new
// subscription; pro.deferLogins).
//
// - coinbaseexchange: `timestamp`, `signature` (the REST signature of `GET /users/self/verify`),
//   `passphrase` for the `user` channel and for `level2` (its order books), as ccxt.pro sends them.
// - coinbase (Advanced Trade, CDP keys): `jwt`, the agent's WebSocket JWT (no `uri`), whatever the
//   key's form (ccxt.pro makes one for `organizations/...` keys and signs others with an HMAC of
//   the secret: that the agent holds CDP keys only makes the JWT the right one).

const { PENDING, deferLogins, login } = require('./pro');

function install(ex, signer, id) {
  deferLogins(ex, async (message) => {
    const { fields } = await login(signer);
    const out = {};
    for (const [k, v] of Object.entries(message)) out[k] = v === PENDING ? fields[k] : v;
    return out;
  });
  if (id === 'coinbase') {
    ex.createWSAuth = function createWSAuth() {
      this.checkRequiredCredentials();
      return { jwt: PENDING };
    };
  } else {
    ex.authenticate = function authenticate() {
      // coinbaseexchange's, ccxt's order of the fields
      this.checkRequiredCredentials();
      return { timestamp: PENDING, key: this.apiKey, signature: PENDING, passphrase: PENDING };
    };
  }
}

module.exports = { install };
