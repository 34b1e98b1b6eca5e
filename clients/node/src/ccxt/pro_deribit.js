'use strict';
// Deribit on ccxt.pro: `authenticate()` sends the agent's `public/auth` login (grant_type
// client_signature, `data` empty, the request id the agent's); ccxt.pro's future
// ('authenticated', resolved by the reply that carries the access token) is kept, and kept in
// the subscriptions as ccxt.pro keeps it.

const { loginMessage, once } = require('./pro');

function install(ex, signer) {
  ex.authenticate = async function authenticate(params = {}) {
    const url = this.urls.api.ws;
    const client = this.client(url);
    const messageHash = 'authenticated';
    const [done, future] = await once(this, async () => {
      const stored = this.safeValue(client.subscriptions, messageHash);
      if (stored !== undefined) return [true, stored]; // as ccxt.pro: the reply, or true while one is on its way
      this.checkRequiredCredentials();
      const message = await loginMessage(signer);
      return [false, this.watch(url, messageHash, this.extend(message, params), messageHash)];
    });
    if (done) return future;
    let result;
    try {
      result = await future;
    } catch (e) {
      delete client.subscriptions[messageHash];
      throw e;
    }
    client.subscriptions[messageHash] = result;
    return result;
  };
}

module.exports = { install };
