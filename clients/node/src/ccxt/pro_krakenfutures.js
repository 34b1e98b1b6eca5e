'use strict';
// Kraken Futures on ccxt.pro: ccxt.pro's `authenticate()` asks for a challenge (it sends the key
// only) and its handler signs the challenge the server sends back; that signing is the agent's
// login of that challenge (a UUID, or the agent refuses it), after which ccxt.pro's future
// ('challenge') resolves and each private `subscribe` carries `original_challenge` and
// `signed_challenge` as ccxt.pro writes them.

const { login } = require('./pro');

function install(ex, signer) {
  const handle = ex.handleAuthenticate;
  const messageHash = 'challenge';

  async function sign(exchange, client, challenge) {
    let fields;
    try {
      ({ fields } = await login(signer, { challenge: String(challenge ?? '') }));
    } catch (e) {
      client.reject(e, messageHash);
      delete client.subscriptions[messageHash];
      return;
    }
    exchange.options.challenge = fields.original_challenge;
    exchange.options.signedChallenge = fields.signed_challenge;
    const future = exchange.safeValue(client.futures, messageHash);
    if (future !== undefined) future.resolve(true); // kept resolved, as ccxt.pro does: one login per connection
  }

  ex.handleAuthenticate = function handleAuthenticate(client, message) {
    if (this.safeString(message, 'event') === 'error') return handle.call(this, client, message); // ccxt's: rejects, allows another attempt
    sign(this, client, this.safeValue(message, 'message')).catch((e) => client.reject(e, messageHash));
    return message;
  };
}

module.exports = { install };
