'use strict';
// Binance on ccxt.pro: spot's user data stream is subscribed on the WebSocket API with
// `userDataStream.subscribe.signature`, whose params are the agent's `user-data` login (its
// request id the agent's); ccxt.pro's `ensureUserDataStreamWsSubscribeSignature` is kept but for
// that step. Margin (`sapiPostUserListenToken`) and the futures, options and portfolio margin
// (`.../listenKey`, kept alive by PUT) get their streams from REST calls the adapter's sign()
// signs: ccxt.pro's flow as is (binanceusdm, binancecoinm too). The WebSocket API's requests
// (`createOrderWs`, `fetchBalanceWs`, ...) are signed one by one by ccxt.pro's `signParams()`
// with the secret: ccxt.NotSupported (ccxt's own code would fail on the held secret with a
// TypeError, `secret.indexOf`).

const { loginMessage } = require('./pro');

function install(ex, signer) {
  const { ccxt } = signer;

  ex.ensureUserDataStreamWsSubscribeSignature = async function ensureUserDataStreamWsSubscribeSignature(marketType = 'spot') {
    // ccxt.pro 4.5.76 to 4.5.84's, with the agent's message instead of signParams({}).
    const url = this.safeString(this.urls.api.ws['ws-api'], marketType);
    if (url === undefined) throw new ccxt.ExchangeError(this.id + ' has no websocket url for this endpoint');
    const client = this.client(url);
    if (this.getAccountTypeFromSubscriptions(Object.keys(client.subscriptions)) === marketType) return;
    const messageHash = 'authenticate:signature:' + marketType;
    if (messageHash in client.futures) {
      // another caller is already subscribing: wait for it
      await client.future(messageHash);
      return;
    }
    const waiting = client.future(messageHash); // created ahead, so concurrent callers find it
    waiting.catch(() => {}); // its rejection is the caller's (thrown below); others await it too
    client.subscriptions[marketType] = true;
    try {
      const message = await loginMessage(signer, { kind: 'user-data' });
      const requestHash = String(message.id);
      const subscription = { id: requestHash, method: this.handleUserDataStreamSubscribe, subscription: marketType };
      await this.watch(url, requestHash, message, requestHash, subscription);
      client.resolve(marketType, messageHash);
    } catch (e) {
      delete client.subscriptions[marketType];
      client.reject(e, messageHash);
      throw e;
    }
  };

  ex.signParams = function signParams() {
    throw new ccxt.NotSupported(`${this.id}: ccxt.pro signs each WebSocket API request with the secret, which stays in the agent (it signs Binance's REST requests and the user data stream's subscription only): use the REST methods`);
  };
}

module.exports = { install };
