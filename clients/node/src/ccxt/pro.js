'use strict';
// ccxt.pro through the agent: the private WebSockets authenticate with the login the agent
// stamps (`login@apisec`; the secret's policy must say `allow_login = true`). ccxt.pro computes
// its logins with `this.secret` directly in `authenticate()`: for Bitget it is replaced by one
// that sends the agent's login on the same connection, with ccxt's own future and message hash,
// so `watchBalance()`, `watchOrders()` and friends work unchanged. Any other use of the secret
// meets the held placeholder, which raises ccxt.NotSupported.

function isPro(exchange) {
  return typeof exchange.watch === 'function' && typeof exchange.client === 'function';
}

async function login(signer) {
  try {
    return JSON.parse((await signer.agent.login(signer.name)).message);
  } catch (e) {
    throw signer.translate(e, 'refused to log in');
  }
}

// How each exchange's authenticate() finds its connection's URL.
const URLS = {
  bitget: (ex, params) => ex.safeString(params, 'url', ''),
};

function install(exchange, signer) {
  if (!isPro(exchange)) return null;
  const urlOf = URLS[exchange.id];
  if (!urlOf) return null;
  exchange.authenticate = async function authenticate(params = {}) {
    const url = urlOf(this, params);
    const messageHash = 'authenticated';
    const client = this.client(url);
    const future = client.reusableFuture(messageHash);
    if (this.safeValue(client.subscriptions, messageHash) === undefined) {
      let message;
      try {
        message = await login(signer);
      } catch (e) {
        // Through ccxt's own future, which is then forgotten: the caller gets the refusal,
        // a later call asks the agent again, and closing the exchange leaves nothing pending.
        client.reject(e, messageHash);
        return await future;
      }
      this.watch(url, messageHash, message, messageHash);
    }
    return await future;
  };
  return 'login';
}

module.exports = { install, isPro };
