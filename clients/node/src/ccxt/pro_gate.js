'use strict';
// Gate on ccxt.pro: every private channel's `subscribe` carries its own `auth` (a signature of
// `channel=C&event=subscribe&time=T`), which is the agent's login of kind C; ccxt.pro's
// `subscribePrivate` is kept but for that step (the agent is asked only when ccxt sends the
// subscribe, i.e. for a new subscription). `authenticate()`, the WebSocket API's
// `spot.login`/`futures.login`, is the agent's too (its request id the agent's). ccxt.pro signs
// every WebSocket API request after it (`createOrderWs`, `fetchOpenOrdersWs`, ...) with the
// secret, which the agent does not do: those raise ccxt.NotSupported.

const { loginMessage, once } = require('./pro');

function install(ex, signer) {
  const { ccxt } = signer;

  ex.subscribePrivate = async function subscribePrivate(url, messageHash, payload, channel, params, requiresUid = false) {
    // ccxt.pro 4.5.84's, with the time and auth the agent's (it signs with its own clock).
    this.checkRequiredCredentials();
    if (requiresUid) {
      if (this.uid === undefined || this.uid.length === 0) {
        throw new ccxt.ArgumentsRequired(this.id + ' requires uid to subscribe');
      }
      payload = (payload === undefined) ? [this.uid] : this.arrayConcat([this.uid], payload);
    }
    const client = this.client(url);
    const [future] = await once(this, async () => {
      const requestId = this.requestId();
      const request = { id: requestId, time: undefined, channel, event: 'subscribe', auth: undefined };
      if (payload !== undefined) request.payload = payload;
      let message;
      if (!(messageHash in client.subscriptions)) {
        const login = await loginMessage(signer, { kind: channel });
        request.time = login.time;
        request.auth = login.auth;
        // in case of an authentication error ccxt finds the subscription by request id
        client.subscriptions[requestId.toString()] = messageHash;
        message = this.extend(request, params);
      }
      // Subscribed already: ccxt sends nothing, so nothing is signed.
      return [this.watch(url, messageHash, message, messageHash, messageHash)];
    });
    return await future;
  };

  ex.authenticate = async function authenticate(url, messageType) {
    const messageHash = 'authenticated';
    const client = this.client(url);
    const [done, future] = await once(this, async () => {
      if (this.safeValue(client.subscriptions, messageHash) !== undefined) {
        return [true, client.reusableFuture(messageHash)]; // as ccxt.pro: logged in, or on its way
      }
      const message = await loginMessage(signer, { kind: `${messageType}.login` });
      const rid = String(message.id);
      // Gate answers with the agent's request id: its future, and the one ccxt's error handler
      // rejects (it looks the id up in the subscriptions).
      client.subscriptions[rid] = rid;
      return [false, this.watch(url, rid, message, messageHash, rid)];
    });
    if (done) return future;
    let result;
    try {
      result = await future;
    } catch (e) {
      delete client.subscriptions[messageHash];
      // a caller that came meanwhile waits on ccxt's future: it gets the error too
      if (messageHash in client.futures) client.reject(e, messageHash);
      throw e;
    }
    // kept resolved, as ccxt.pro's handler keeps it: later calls find it logged in
    client.reusableFuture(messageHash).resolve(true);
    return result;
  };

  ex.requestPrivate = async function requestPrivate(url, reqParams, channel) {
    throw new ccxt.NotSupported(`gate ${channel}: ccxt.pro signs each WebSocket API request with the secret, which stays in the agent (it signs Gate's REST requests, the private channels' subscriptions and spot.login/futures.login only): use the REST methods`);
  };
}

module.exports = { install };
