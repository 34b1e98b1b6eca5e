'use strict';
// ccxt.pro through the agent: the private WebSockets authenticate with the login the agent
// stamps (`login@apisec`; the secret's policy must say `allow_login = true`), and nothing else
// on the instance can reach for the secret.
//
// ccxt.pro computes its logins with `this.secret` directly. For each exchange whose login the
// agent makes, just that step is replaced, keeping ccxt.pro's own futures, message hashes and
// handlers, so `watchBalance()`, `watchOrders()` and friends work unchanged (ccxt 4.5.76 to
// 4.5.84; the same flows as the Python adapter's apisec_agent/ccxt/pro.py):
//
// - bitget, okx, bybit, bitfinex: `authenticate()` sends the agent's login message on the same
//   connection (here).
// - gate (`pro_gate.js`): each private channel's `subscribe` carries the agent's `auth` for that
//   channel; `authenticate()` (the WebSocket API's `spot.login`/`futures.login`) is the agent's.
// - binance (`pro_binance.js`): spot's `userDataStream.subscribe.signature` is the agent's
//   `user-data` login; margin's listenToken and the futures' listenKeys come from REST calls.
// - htx (`pro_htx.js`), deribit (`pro_deribit.js`): `authenticate()` sends the agent's login
//   (HTX: the kind from the connection's path, the host ccxt signs).
// - coinbaseexchange, coinbase (`pro_coinbase.js`): the subscribe messages carry the agent's
//   fields (Coinbase Exchange's signature, Coinbase Advanced's JWT), filled in when ccxt sends one.
// - krakenfutures (`pro_krakenfutures.js`): ccxt.pro asks for the challenge; the agent signs it.
//
// Kraken (`GetWebSocketsToken`), KuCoin (`bullet-private`, futures and unified too), MEXC spot
// (`userDataStream` listenKey) and Binance's listenKey/listenToken get their stream tokens from
// REST calls, which the adapter's sign() already signs: nothing to replace. What needs the
// secret in a way the agent does not provide raises ccxt.NotSupported saying so, never a
// TypeError: Binance's WebSocket API requests (`signParams`), Gate's WebSocket API requests
// (`createOrderWs`, ...), MEXC futures' login (`pro_mexc.js`), and anything else that meets the
// held placeholder. The pro subclasses (okxus, binanceusdm, binancecoinm, kucoinfutures, ...)
// log in with the code of the nearest ccxt.pro class the adapter knows.

const errors = require('../errors');

/** Whether `exchange` is a ccxt.pro instance: its class is, or extends, one of `ccxt.pro`'s (ccxt's
 * REST classes have `watch()` and `client()` too, from the shared base); without the ccxt module
 * at hand, whether it says it has WebSockets. */
function isPro(exchange, ccxt = undefined) {
  if (typeof exchange.watch !== 'function' || typeof exchange.client !== 'function') return false;
  const classes = ccxt && ccxt.pro;
  if (!classes) return Boolean(exchange.has && exchange.has.ws === true);
  for (let p = Object.getPrototypeOf(exchange); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const name = Object.hasOwn(p, 'constructor') ? p.constructor.name : undefined;
    if (name && name !== 'Exchange' && Object.hasOwn(classes, name) && classes[name].prototype === p) return true;
  }
  return false;
}

/** The agent's refusals of a login as ccxt's exceptions (the agent's error as `cause`). */
function loginError(signer, e) {
  const { ccxt } = signer;
  let out;
  if (e instanceof errors.PolicyRefused || e instanceof errors.ApprovalDenied) {
    out = new ccxt.PermissionDenied(`${signer.exchangeId} apisec agent: ${e.message}`);
  } else if (e instanceof errors.UnsupportedRequest || e instanceof errors.SignError || e instanceof errors.BadRequest) {
    out = new ccxt.NotSupported(`${signer.exchangeId} apisec agent makes no such login: ${e.message}`);
  } else if (e instanceof errors.AgentError) {
    out = new ccxt.AuthenticationError(`${signer.exchangeId} apisec agent: ${e.message}`);
  } else {
    return e;
  }
  out.cause = e;
  return out;
}

/** The agent's login (`LoginResult {fields, message}`) for the attached secret. */
async function login(signer, { kind, challenge, host } = {}) {
  try {
    return await signer.agent.login(signer.name, { kind, challenge, host });
  } catch (e) {
    throw loginError(signer, e);
  }
}

async function loginMessage(signer, options = {}) {
  return JSON.parse((await login(signer, options)).message);
}

const LOCKS = new WeakMap();

/** Runs `fn` alone among the instance's logins ("not logged in yet? ask the agent, send"), so
 * concurrent watch*() calls log in once, as ccxt's own synchronous signing does. `fn` must not
 * resolve to a ccxt future it wants left unawaited: wrap it ([future]). */
async function once(ex, fn) {
  const before = LOCKS.get(ex) || Promise.resolve();
  let release;
  const mine = new Promise((r) => { release = r; });
  const tail = before.then(() => mine);
  LOCKS.set(ex, tail);
  await before;
  try {
    return await fn();
  } finally {
    release();
    if (LOCKS.get(ex) === tail) LOCKS.delete(ex);
  }
}

/** A login field ccxt.pro's synchronous code leaves for `deferLogins` to fill. */
const PENDING = Object.freeze({ apisecPending: true, toJSON: () => { throw new Error('apisec: a login field was sent unfilled'); } });

function holdsPending(message) {
  return message !== null && typeof message === 'object' && Object.values(message).some((v) => v === PENDING);
}

/** For exchanges whose login fields go into a message that synchronous ccxt code builds
 * (Coinbase's `authenticate()`, `createWSAuth()`): that code writes PENDING, and a message
 * holding PENDING is completed by the agent (`complete`) when ccxt actually sends it, i.e. when
 * its subscription is new; otherwise ccxt sends nothing and the agent is not asked. */
function deferLogins(ex, complete) {
  for (const [name, multiple] of [['watch', false], ['watchMultiple', true]]) {
    const original = ex[name];
    ex[name] = function deferred(url, hashes, message = undefined, subscribe = undefined, subscription = undefined) {
      if (!holdsPending(message)) return original.call(this, url, hashes, message, subscribe, subscription);
      return (async () => {
        const [future] = await once(this, async () => {
          const client = this.client(url);
          const subs = multiple ? (subscribe || []) : [subscribe];
          const fresh = subs.some((h) => client.subscriptions[h] === undefined);
          const sent = fresh ? await complete(message) : undefined;
          return [original.call(this, url, hashes, sent, subscribe, subscription)];
        });
        return await future;
      })();
    };
  }
}

/** An `authenticate()` in ccxt.pro's pattern (one reusable future per connection under the
 * message hash 'authenticated'), sending the agent's login instead of computing one. */
function authenticateWith(signer, urlOf) {
  return async function authenticate(...args) {
    const url = urlOf(this, args);
    const messageHash = 'authenticated';
    const client = this.client(url);
    const [future] = await once(this, async () => {
      const pending = client.reusableFuture(messageHash);
      if (this.safeValue(client.subscriptions, messageHash) === undefined) {
        let message;
        try {
          message = await loginMessage(signer);
        } catch (e) {
          // Through ccxt's own future, which is then forgotten: the caller gets the refusal,
          // a later call asks the agent again, and closing the exchange leaves nothing pending.
          client.reject(e, messageHash);
          return [pending];
        }
        this.watch(url, messageHash, message, messageHash);
      }
      return [pending];
    });
    return await future;
  };
}

// How each exchange's authenticate() finds its connection's URL (ccxt.pro 4.5.76 to 4.5.84).
const URLS = {
  bitget: (ex, [params]) => ex.safeString(params || {}, 'url', ''),
  okx: (ex, [params]) => ex.getUrl('users', ex.safeString(params || {}, 'access', 'private')),
  bybit: (ex, [url]) => url, // bybit.authenticate(url, params)
  bitfinex: (ex) => ex.urls.api.ws.private,
};

// Exchanges whose login step is replaced by a module of their own (pro_<id>.js).
const MODULES = {
  gate: 'pro_gate', binance: 'pro_binance', htx: 'pro_htx', deribit: 'pro_deribit',
  coinbaseexchange: 'pro_coinbase', coinbase: 'pro_coinbase', krakenfutures: 'pro_krakenfutures',
  mexc: 'pro_mexc',
};

/** The ccxt.pro class the instance's login code comes from: its own, or the nearest parent the
 * adapter knows (okxus is okx's, binanceusdm binance's; kucoinfutures, kucoin's, needs none). */
function proId(exchange) {
  // ccxt.pro's classes extend ccxt's of the same name: the first known name up the chain is the
  // pro class whose login code the instance runs.
  for (let p = Object.getPrototypeOf(exchange); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const name = Object.prototype.hasOwnProperty.call(p, 'constructor') ? p.constructor.name : undefined;
    if (name && (Object.hasOwn(URLS, name) || Object.hasOwn(MODULES, name))) return name;
  }
  return null;
}

/** Makes a ccxt.pro instance authenticate through the agent; returns which way ("login", or
 * "rest-tokens" where its streams' tokens come from signed REST calls), null for REST only. */
function install(exchange, signer) {
  if (!isPro(exchange, signer.ccxt)) return null;
  const id = proId(exchange);
  if (id && Object.hasOwn(URLS, id)) {
    exchange.authenticate = authenticateWith(signer, URLS[id]);
    return 'login';
  }
  if (id && Object.hasOwn(MODULES, id)) {
    require(`./${MODULES[id]}`).install(exchange, signer, id);
    return 'login';
  }
  return 'rest-tokens';
}

module.exports = {
  install, isPro, proId, login, loginMessage, loginError, once, PENDING, deferLogins, URLS, MODULES,
};
