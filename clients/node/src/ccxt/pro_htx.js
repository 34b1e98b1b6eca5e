'use strict';
// HTX on ccxt.pro: `authenticate()` sends the agent's login, of the kind the connection's path
// names (spot `/ws/v2`; the contracts' `/linear-swap-notification`, `/swap-notification`,
// `/notification`, `/ws/v5/notification`), for the host ccxt.pro signs (its `hostname`);
// ccxt.pro's future ('auth'), subscription and handler are kept.

const { loginMessage, once } = require('./pro');

const KINDS = {
  '/ws/v2': 'spot',
  '/linear-swap-notification': 'linear-swap',
  '/swap-notification': 'swap',
  '/notification': 'futures',
  '/ws/v5/notification': 'unified',
};

function install(ex, signer) {
  const { ccxt } = signer;

  ex.authenticate = async function authenticate(params = {}) {
    const url = this.safeString(params, 'url');
    const hostname = this.safeString(params, 'hostname');
    if (url === undefined || hostname === undefined || this.safeString(params, 'type') === undefined) {
      throw new ccxt.ArgumentsRequired(this.id + ' authenticate requires a url, hostname and type argument');
    }
    this.checkRequiredCredentials();
    const messageHash = 'auth';
    const client = this.client(url);
    await once(this, async () => {
      if (this.safeValue(client.subscriptions, messageHash) !== undefined) return;
      const path = new URL(url).pathname;
      const kind = Object.hasOwn(KINDS, path) ? KINDS[path] : undefined;
      if (kind === undefined) {
        throw new ccxt.NotSupported(`htx: the agent makes no login for the WebSocket path ${JSON.stringify(path)} (it does for ${Object.keys(KINDS).join(', ')})`);
      }
      const message = await loginMessage(signer, { kind, host: hostname });
      const subscription = { id: this.requestId(), messageHash, params };
      this.watch(url, messageHash, message, messageHash, subscription);
    });
    return await client.reusableFuture(messageHash);
  };
}

module.exports = { install, KINDS };
