'use strict';
// ccxt.pro's own private flows, logged in through the agent (src/ccxt/pro.js and its pro_<id>
// modules), as clients/python/tests/test_ccxt_pro_logins.py: each exchange's watch*() or
// authenticate() runs against a local WebSocket server started here (the `ws` package), which
// records what ccxt.pro sends and answers as the exchange does. Each login is checked here
// independently of the agent: the exchange's documented signature recomputed with node:crypto
// over the message's fields with the test's own secret, the API key, and the freshness of the
// timestamp. The exchanges whose streams take a token from a REST call (Kraken, KuCoin, MEXC
// spot, Binance futures' listenKey) are shown to get it through the adapter's sign(). Also: a
// secret without allow_login is ccxt's PermissionDenied with nothing signed sent, what the agent
// cannot sign is NotSupported, and no instance holds a secret.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { WebSocketServer } = require('ws');

const ccxt = require('ccxt');
const apisec = require('..');
const { attach } = require('../src/ccxt');
const pro = require('../src/ccxt/pro');
const { AgentEnv } = require('./env');
const { credentials, addAll } = require('./cases');

const LOGIN = credentials('login');
const PLAIN = Object.fromEntries(Object.entries(credentials('plain'))
  .filter(([id]) => ['gate', 'coinbaseexchange', 'krakenfutures'].includes(id)));
for (const [id, c] of Object.entries(PLAIN)) c.secret = LOGIN[id].secret; // the same secret, no login

const hmac = (alg, key, data, enc) => crypto.createHmac(alg, key).update(data).digest(enc);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freshS = (t) => assert.ok(Math.abs(Number(t) - Date.now() / 1000) < 30, `not fresh: ${t}`);
const freshMs = (t) => assert.ok(Math.abs(Number(t) - Date.now()) < 30000, `not fresh: ${t}`);

function noSecretIn(ex, c) {
  const state = util.inspect({ ...ex }, { depth: 5, maxArrayLength: 20, maxStringLength: 100000 });
  assert.ok(!state.includes(c.secret) && !state.includes('PRIVATE KEY'), 'the secret is on the instance');
  if (c.passphrase) assert.ok(!state.includes(c.passphrase), 'the passphrase is on the instance');
}

/** A WebSocket server on 127.0.0.1: records every JSON text message as [path, message] and
 * sends what `reply(path, message)` returns. */
class LocalWs {
  constructor(reply = () => []) {
    this.reply = reply;
    this.received = [];
    this.exchanges = [];
  }

  async start() {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => this.server.once('listening', r));
    this.base = `ws://127.0.0.1:${this.server.address().port}`;
    this.server.on('connection', (sock, req) => {
      const where = new URL(req.url, 'http://x').pathname;
      sock.on('message', (data) => {
        let m;
        try {
          m = JSON.parse(data.toString());
        } catch {
          return; // a ping in text
        }
        this.received.push([where, m]);
        for (const r of this.reply(where, m)) sock.send(typeof r === 'string' ? r : JSON.stringify(r));
      });
    });
    return this;
  }

  messages(pred = () => true) {
    return this.received.map(([, m]) => m).filter(pred);
  }

  async wait(pred, timeout = 10000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const [m] = this.messages(pred);
      if (m) return m;
      assert.ok(Date.now() < deadline, `not received; got ${JSON.stringify(this.received)}`);
      await sleep(20);
    }
  }

  async close() {
    for (const ex of this.exchanges) await ex.close();
    for (const c of this.server.clients) c.terminate();
    await new Promise((r) => this.server.close(r));
  }
}

/** ccxt.pro's watch*() running: the test reads what it sent; closing the exchange ends it. */
function watching(promise) {
  promise.catch(() => {});
  return promise;
}

async function withServer(reply, fn) {
  const server = await new LocalWs(reply).start();
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function usdMarket(ex, id = 'BTC-USD', symbol = 'BTC/USD') {
  const [base, quote] = symbol.split('/');
  ex.setMarkets([{ id, symbol, base, quote, baseId: base, quoteId: quote, type: 'spot', spot: true, active: true, precision: { amount: 0.0001, price: 0.01 } }]);
}

test('ccxt.pro logins through the agent', async (t) => {
  const env = new AgentEnv('apisec-node-pro-');
  t.after(() => env.close());
  env.init();
  const logins = path.join(env.root, 'logins.toml');
  fs.writeFileSync(logins, 'allow_login = true\n');
  for (const c of Object.values(LOGIN)) if (c.exchange !== 'deribit') c.addArgs = [...c.addArgs, '--policy', logins]; // Deribit's add() has it
  addAll(env, LOGIN);
  addAll(env, PLAIN);
  await env.start();
  env.unlock(...[...Object.values(LOGIN), ...Object.values(PLAIN)].map((c) => c.name));
  const agent = new apisec.Agent(env.socket);
  t.after(() => agent.close());

  async function proEx(server, id, c, config = {}) {
    const ex = new ccxt.pro[id]({ enableRateLimit: false, ...config });
    if (server) server.exchanges.push(ex);
    await attach(ex, c.name, { agent, ccxt });
    await ex.loadHttpProxyAgent(); // ccxt's requirement for a ws:// (not wss://) URL
    return ex;
  }

  await t.test('each pro class finds its login code', { timeout: 60000 }, () => {
    const expect = { okxus: 'okx', binanceusdm: 'binance', binancecoinm: 'binance', kucoinfutures: null, kraken: null, kucoin: null };
    for (const id of ['bitget', 'okx', 'bybit', 'bitfinex', 'gate', 'binance', 'htx', 'deribit', 'coinbaseexchange', 'coinbase', 'krakenfutures', 'mexc', ...Object.keys(expect)]) {
      assert.equal(pro.proId(new ccxt.pro[id]()), id in expect ? expect[id] : id, id);
    }
    assert.equal(pro.proId(new ccxt.okx()), 'okx'); // REST: install() leaves it alone (isPro)
    assert.equal(pro.isPro(new ccxt.okx(), ccxt), false);
    assert.equal(pro.isPro(new ccxt.pro.okxus(), ccxt), true);
  });

  await t.test('okx, bybit, bitfinex: authenticate() sends the agent login', { timeout: 60000 }, async () => {
    const reply = (where, m) => {
      if (m.op === 'login') return [{ event: 'login', code: '0', msg: '', connId: '1' }];
      if (m.op === 'auth') return [{ success: true, ret_msg: '', op: 'auth', conn_id: 'c1' }];
      if (m.event === 'auth') return [{ event: 'auth', status: 'OK', chanId: 0, userId: 1 }];
      return [];
    };
    await withServer(reply, async (server) => {
      let c = LOGIN.okx;
      let ex = await proEx(server, 'okx', c);
      ex.urls.api.ws = `${server.base}/ws/v5`;
      await ex.authenticate();
      let m = await server.wait((x) => x.op === 'login');
      const [a] = m.args;
      assert.equal(a.apiKey, c.apiKey);
      assert.equal(a.passphrase, c.passphrase);
      freshS(a.timestamp);
      assert.equal(a.sign, hmac('sha256', c.secret, `${a.timestamp}GET/users/self/verify`, 'base64'));
      await ex.authenticate(); // logged in: nothing more sent
      assert.equal(server.messages((x) => x.op === 'login').length, 1);
      assert.equal(server.received[0][0], '/ws/v5/private');
      noSecretIn(ex, c);

      // okxus logs in as okx does
      ex = await proEx(server, 'okxus', c);
      ex.urls.api.ws = `${server.base}/us/v5`;
      await ex.authenticate();
      assert.equal(server.messages((x) => x.op === 'login').length, 2);

      c = LOGIN.bybit;
      ex = await proEx(server, 'bybit', c);
      await ex.authenticate(`${server.base}/v5/private`);
      m = await server.wait((x) => x.op === 'auth');
      const [key, expires, signature] = m.args;
      assert.equal(key, c.apiKey);
      assert.ok(Math.abs(Number(expires) - 10000 - Date.now()) < 30000, expires);
      assert.equal(signature, hmac('sha256', c.secret, `GET/realtime${expires}`, 'hex'));
      noSecretIn(ex, c);

      c = LOGIN.bitfinex;
      ex = await proEx(server, 'bitfinex', c);
      ex.urls.api.ws.private = `${server.base}/ws/2`;
      await ex.authenticate();
      m = await server.wait((x) => x.event === 'auth');
      assert.equal(m.apiKey, c.apiKey);
      assert.equal(m.authPayload, `AUTH${m.authNonce}`);
      assert.equal(m.authSig, hmac('sha384', c.secret, m.authPayload, 'hex'));
      noSecretIn(ex, c);
    });
  });

  await t.test('gate: private channels and spot.login', { timeout: 60000 }, async () => {
    const c = LOGIN.gate;
    const reply = (where, m) => {
      if (m.event === 'subscribe') return [{ time: Math.floor(Date.now() / 1000), id: m.id, channel: m.channel, event: 'subscribe', result: { status: 'success' } }];
      if (m.channel === 'spot.login') {
        return [{ request_id: m.payload.req_id, header: { response_time: '1', status: '200', channel: 'spot.login', event: 'api' }, data: { result: { api_key: m.payload.api_key, uid: '1' } } }];
      }
      return [];
    };
    await withServer(reply, async (server) => {
      const ex = await proEx(server, 'gate', c);
      const url = `${server.base}/ws/v4/`;
      ex.urls.api.spot = url;
      ex.markets = {};
      watching(ex.watchBalance());
      const m = await server.wait((x) => x.channel === 'spot.balances');
      assert.equal(m.event, 'subscribe');
      assert.deepEqual([m.auth.method, m.auth.KEY], ['api_key', c.apiKey]);
      freshS(m.time);
      assert.equal(m.auth.SIGN, hmac('sha512', c.secret, `channel=spot.balances&event=subscribe&time=${m.time}`, 'hex'));
      assert.ok(Number.isInteger(m.id) && !('payload' in m));
      // Once subscribed, ccxt sends nothing more, and the agent is not asked again.
      watching(ex.watchBalance());
      await sleep(300);
      assert.equal(server.messages((x) => x.channel === 'spot.balances').length, 1);
      // The WebSocket API's login: ccxt's authenticate() resolves on the reply.
      await ex.authenticate(url, 'spot');
      const login = await server.wait((x) => x.channel === 'spot.login');
      const p = login.payload;
      assert.equal(login.event, 'api');
      assert.equal(p.api_key, c.apiKey);
      assert.deepEqual(p.req_param, {});
      freshS(p.timestamp);
      assert.equal(String(login.time), p.timestamp);
      assert.equal(String(login.id), String(p.req_id));
      assert.equal(p.signature, hmac('sha512', c.secret, `api\nspot.login\n{}\n${p.timestamp}`, 'hex'));
      await ex.authenticate(url, 'spot'); // logged in: nothing more sent
      assert.equal(server.messages((x) => x.channel === 'spot.login').length, 1);
      // Its requests are signed by ccxt with the secret: NotSupported, nothing sent.
      ex.markets = undefined;
      usdMarket(ex, 'BTC_USDT', 'BTC/USDT');
      await assert.rejects(ex.createOrderWs('BTC/USDT', 'limit', 'buy', 1, 1), (e) => e instanceof ccxt.NotSupported && /REST methods/.test(e.message));
      assert.equal(server.received.length, 2);
      noSecretIn(ex, c);
    });
  });

  await t.test('a secret without allow_login is PermissionDenied, nothing signed sent', { timeout: 60000 }, async () => {
    const reply = (where, m) => (m.event === 'challenge' ? [{ event: 'challenge', message: crypto.randomUUID() }] : []);
    await withServer(reply, async (server) => {
      const denied = (e) => e instanceof ccxt.PermissionDenied && /allow_login/.test(e.message);
      let ex = await proEx(server, 'gate', PLAIN.gate);
      ex.urls.api.spot = `${server.base}/ws/v4/`;
      ex.markets = {};
      await assert.rejects(ex.watchBalance(), denied);
      noSecretIn(ex, PLAIN.gate);

      ex = await proEx(server, 'coinbaseexchange', PLAIN.coinbaseexchange);
      ex.urls.api.ws = `${server.base}/cbx`;
      usdMarket(ex);
      await assert.rejects(ex.watchOrders('BTC/USD'), denied);
      noSecretIn(ex, PLAIN.coinbaseexchange);

      ex = await proEx(server, 'krakenfutures', PLAIN.krakenfutures);
      ex.urls.api.ws = `${server.base}/ws/v1`;
      ex.markets = {};
      await assert.rejects(ex.watchBalance(), denied);
      noSecretIn(ex, PLAIN.krakenfutures);
      assert.deepEqual(server.messages().map((m) => m.event), ['challenge']);
    });
  });

  await t.test('binance: spot user data stream; binanceusdm listenKey from REST', { timeout: 60000 }, async () => {
    const c = LOGIN.binance;
    const reply = (where, m) => (m.method === 'userDataStream.subscribe.signature' ? [{ id: m.id, status: 200, result: { subscriptionId: 0 } }] : []);
    await withServer(reply, async (server) => {
      const ex = await proEx(server, 'binance', c);
      ex.urls.api.ws['ws-api'].spot = `${server.base}/ws-api/v3`;
      ex.markets = {};
      watching(ex.watchBalance());
      const m = await server.wait((x) => x.method === 'userDataStream.subscribe.signature');
      const p = m.params;
      assert.equal(p.apiKey, c.apiKey);
      assert.deepEqual(Object.keys(p).sort(), ['apiKey', 'signature', 'timestamp']);
      freshMs(p.timestamp);
      assert.equal(p.signature, hmac('sha256', c.secret, `apiKey=${c.apiKey}&timestamp=${p.timestamp}`, 'hex'));
      // ccxt's handler saw the subscription: a second authenticate sends nothing.
      await ex.authenticate({ type: 'spot' });
      assert.equal(server.received.length, 1);
      // The WebSocket API's own requests: ccxt signs each with the secret.
      await assert.rejects(ex.fetchBalanceWs(), (e) => e instanceof ccxt.NotSupported && /stays in the agent/.test(e.message));
      noSecretIn(ex, c);
    });

    // USD-M futures: the listenKey is a REST call, signed (API key header) by the adapter.
    const ex = new ccxt.pro.binanceusdm({ enableRateLimit: false });
    const sent = [];
    ex.fetch = async (url, method = 'GET', headers = undefined, body = undefined) => {
      sent.push({ url, method, headers, body });
      return { listenKey: 'lk-test' };
    };
    ex.delay = () => {}; // ccxt's listenKey keep-alive: a 20-minute timer close() leaves running
    await attach(ex, c.name, { agent, ccxt });
    try {
      await ex.authenticate({ type: 'future' });
    } finally {
      await ex.close();
    }
    assert.equal(sent.length, 1);
    assert.equal(sent[0].method, 'POST');
    assert.equal(new URL(sent[0].url).pathname, '/fapi/v1/listenKey');
    assert.equal(sent[0].headers['X-MBX-APIKEY'], c.apiKey);
    assert.ok(JSON.stringify(ex.options).includes('lk-test'));
  });

  await t.test('htx: spot and contract logins', { timeout: 60000 }, async () => {
    const c = LOGIN.htx;
    const reply = (where, m) => {
      if (m.ch === 'auth') return [{ action: 'req', code: 200, ch: 'auth', data: {} }];
      if (m.op === 'auth') return [{ op: 'auth', type: 'api', 'err-code': 0, ts: Date.now(), data: { 'user-id': '1' } }];
      return [];
    };
    const check = (params, signature, host, where) => {
      const q = new URLSearchParams(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : 1))).toString();
      assert.equal(signature, hmac('sha256', c.secret, `GET\n${host}\n${where}\n${q}`, 'base64'));
    };
    await withServer(reply, async (server) => {
      const ex = await proEx(server, 'htx', c);
      const spot = { url: `${server.base}/ws/v2`, hostname: 'api.huobi.pro', type: 'spot' };
      await ex.authenticate(spot);
      const m = await server.wait((x) => x.ch === 'auth');
      const { signature, authType, ...p } = m.params;
      assert.equal(m.action, 'req');
      assert.equal(authType, 'api');
      assert.equal(p.accessKey, c.apiKey);
      assert.deepEqual([p.signatureMethod, p.signatureVersion], ['HmacSHA256', '2.1']);
      freshMs(Date.parse(`${p.timestamp}Z`));
      check(p, signature, 'api.huobi.pro', '/ws/v2');
      await ex.authenticate(spot); // logged in on that connection: nothing more sent
      const linear = { url: `${server.base}/linear-swap-notification`, hostname: 'api.hbdm.vn', type: 'swap' };
      await ex.authenticate(linear);
      const { op, type, Signature, ...q } = await server.wait((x) => x.op === 'auth');
      assert.deepEqual([op, type, q.AccessKeyId, q.SignatureVersion], ['auth', 'api', c.apiKey, '2']);
      freshMs(Date.parse(`${q.Timestamp}Z`));
      check(q, Signature, 'api.hbdm.vn', '/linear-swap-notification');
      assert.equal(server.received.length, 2);
      await assert.rejects(ex.authenticate({ ...spot, url: `${server.base}/ws/v9` }), (e) => e instanceof ccxt.NotSupported && /no login/.test(e.message));
      noSecretIn(ex, c);
    });
  });

  await t.test('coinbaseexchange: subscriptions carry the agent fields', { timeout: 60000 }, async () => {
    const c = LOGIN.coinbaseexchange;
    await withServer(() => [], async (server) => {
      const ex = await proEx(server, 'coinbaseexchange', c);
      ex.urls.api.ws = `${server.base}/cbx`;
      usdMarket(ex);
      watching(ex.watchOrders('BTC/USD'));
      watching(ex.watchOrderBook('BTC/USD'));
      for (const channel of ['user', 'level2']) {
        const m = await server.wait((x) => JSON.stringify(x.channels) === JSON.stringify([channel]));
        assert.equal(m.type, 'subscribe');
        assert.deepEqual(m.product_ids, ['BTC-USD']);
        assert.equal(m.key, c.apiKey);
        assert.equal(m.passphrase, c.passphrase);
        freshS(m.timestamp);
        assert.equal(m.signature, hmac('sha256', Buffer.from(c.secret, 'base64'), `${m.timestamp}GET/users/self/verify`, 'base64'));
      }
      watching(ex.watchOrders('BTC/USD')); // subscribed: nothing sent
      await sleep(300);
      assert.equal(server.received.length, 2);
      noSecretIn(ex, c);
    });
  });

  await t.test('coinbase (Advanced): subscriptions carry the agent JWT', { timeout: 60000 }, async () => {
    const c = LOGIN.coinbase;
    await withServer(() => [], async (server) => {
      const ex = await proEx(server, 'coinbase', c);
      ex.urls.api.ws = `${server.base}/ws`;
      ex.markets = {};
      watching(ex.watchOrders());
      const m = await server.wait((x) => x.channel === 'user');
      assert.equal(m.type, 'subscribe');
      assert.deepEqual(m.product_ids, []);
      assert.deepEqual(Object.keys(m).sort(), ['channel', 'jwt', 'product_ids', 'type']);
      const [h, claims, sig] = m.jwt.split('.');
      const head = JSON.parse(Buffer.from(h, 'base64url'));
      const body = JSON.parse(Buffer.from(claims, 'base64url'));
      assert.deepEqual([head.alg, head.kid], ['ES256', c.apiKey]);
      assert.equal(body.sub, c.apiKey);
      assert.ok(!('uri' in body));
      assert.equal(body.exp - body.nbf, 120);
      freshS(body.nbf);
      assert.ok(crypto.verify('sha256', Buffer.from(`${h}.${claims}`), { key: crypto.createPublicKey(c.secret), dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url')), 'the JWT does not verify');
      noSecretIn(ex, c);
    });
  });

  await t.test('krakenfutures: the challenge is signed by the agent', { timeout: 60000 }, async () => {
    const c = LOGIN.krakenfutures;
    const challenges = [];
    const reply = (where, m) => {
      if (m.event !== 'challenge') return [];
      challenges.push(crypto.randomUUID());
      return [{ event: 'challenge', message: challenges.at(-1) }];
    };
    await withServer(reply, async (server) => {
      const ex = await proEx(server, 'krakenfutures', c);
      ex.urls.api.ws = `${server.base}/ws/v1`;
      ex.markets = {};
      watching(ex.watchBalance());
      const m = await server.wait((x) => x.event === 'subscribe');
      assert.deepEqual(server.messages((x) => x.event === 'challenge'), [{ event: 'challenge', api_key: c.apiKey }]);
      assert.equal(m.feed, 'balances');
      assert.equal(m.api_key, c.apiKey);
      assert.equal(m.original_challenge, challenges[0]);
      const hashed = crypto.createHash('sha256').update(challenges[0]).digest();
      assert.equal(m.signed_challenge, hmac('sha512', Buffer.from(c.secret, 'base64'), hashed, 'base64'));
      noSecretIn(ex, c);
    });
    // A challenge that is no UUID (it could be a REST request's path) is not signed.
    await withServer((where, m) => (m.event === 'challenge' ? [{ event: 'challenge', message: '/api/v3/accounts' }] : []), async (server) => {
      const ex = await proEx(server, 'krakenfutures', c);
      ex.urls.api.ws = `${server.base}/ws/v1`;
      ex.markets = {};
      await assert.rejects(ex.watchBalance(), (e) => e instanceof ccxt.NotSupported && /challenge/.test(e.message));
      assert.equal(server.messages((x) => x.event === 'subscribe').length, 0);
    });
  });

  await t.test('deribit: public/auth', { timeout: 60000 }, async () => {
    const c = LOGIN.deribit;
    const reply = (where, m) => (m.method === 'public/auth' ? [{ jsonrpc: '2.0', id: m.id, result: { token_type: 'bearer', access_token: 'at', refresh_token: 'rt', expires_in: 900, scope: 'trade:read' } }] : []);
    await withServer(reply, async (server) => {
      const ex = await proEx(server, 'deribit', c);
      ex.urls.api.ws = `${server.base}/ws/api/v2`;
      watching(ex.watchBalance());
      const m = await server.wait((x) => x.method === 'public/auth');
      const p = m.params;
      assert.deepEqual([p.grant_type, p.client_id, p.data], ['client_signature', c.apiKey, '']);
      freshMs(p.timestamp);
      assert.equal(p.signature, hmac('sha256', c.secret, `${p.timestamp}\n${p.nonce}\n${p.data}`, 'hex'));
      // ccxt resolved the login on the reply and subscribed to the portfolio.
      const sub = await server.wait((x) => x.method === 'private/subscribe');
      assert.ok(sub.params.channels.some((ch) => ch.startsWith('user.portfolio')), JSON.stringify(sub));
      assert.equal((await ex.authenticate()).result.access_token, 'at');
      assert.equal(server.messages((x) => x.method === 'public/auth').length, 1);
      noSecretIn(ex, c);
    });
  });

  await t.test('kucoin, kraken, mexc: stream tokens from REST calls the adapter signs', { timeout: 60000 }, async () => {
    async function restEx(id, c, answer) {
      const ex = new ccxt.pro[id]({ enableRateLimit: false });
      ex.delay = () => {}; // ccxt's listenKey keep-alive (MEXC): a 20-minute timer close() leaves running
      const sent = [];
      ex.fetch = async (url, method = 'GET', headers = undefined, body = undefined) => {
        sent.push({ url, method, headers: { ...headers }, body });
        return answer(url);
      };
      await attach(ex, c.name, { agent, ccxt });
      return { ex, sent };
    }
    // KuCoin: negotiate() POSTs /api/v1/bullet-private (KC-API-* headers, version 2).
    let c = LOGIN.kucoin;
    const kcSign = (h, p, body) => hmac('sha256', c.secret, `${h['KC-API-TIMESTAMP']}POST${p}${body || ''}`, 'base64');
    const bullet = (token) => () => ({ code: '200000', data: { token, instanceServers: [{ endpoint: 'wss://ws-api-spot.kucoin.com/', pingInterval: 18000, protocol: 'websocket', encrypt: true, pingTimeout: 10000 }] } });
    let { ex, sent } = await restEx('kucoin', c, bullet('tok-kc'));
    try {
      assert.match(await ex.negotiate(true), /token=tok-kc/);
      let [r] = sent;
      assert.equal(sent.length, 1);
      assert.equal(r.method, 'POST');
      assert.equal(new URL(r.url).pathname, '/api/v1/bullet-private');
      assert.deepEqual([r.headers['KC-API-KEY'], r.headers['KC-API-KEY-VERSION']], [c.apiKey, '2']);
      freshMs(r.headers['KC-API-TIMESTAMP']);
      assert.equal(r.headers['KC-API-SIGN'], kcSign(r.headers, '/api/v1/bullet-private', r.body));
      assert.equal(r.headers['KC-API-PASSPHRASE'], hmac('sha256', c.secret, c.passphrase, 'base64'));
      // The unified account's token: the same call, version 2.
      sent.length = 0;
      assert.equal(await ex.authenticateUta(), 'tok-kc');
      [r] = sent;
      assert.equal(new URL(r.url).pathname, '/api/v2/bullet-private');
      assert.equal(r.headers['KC-API-SIGN'], kcSign(r.headers, '/api/v2/bullet-private', r.body));
      noSecretIn(ex, c);
    } finally {
      await ex.close();
    }
    // KuCoin futures: the same call on the futures host.
    ({ ex, sent } = await restEx('kucoinfutures', c, bullet('tok-kf')));
    try {
      assert.match(await ex.negotiate(true, true), /token=tok-kf/);
      const [r] = sent;
      assert.equal(new URL(r.url).host, 'api-futures.kucoin.com');
      assert.equal(r.headers['KC-API-KEY'], c.apiKey);
      assert.equal(r.headers['KC-API-SIGN'], kcSign(r.headers, '/api/v1/bullet-private', r.body));
    } finally {
      await ex.close();
    }

    // Kraken: authenticate() POSTs /0/private/GetWebSocketsToken (API-Sign).
    c = LOGIN.kraken;
    ({ ex, sent } = await restEx('kraken', c, () => ({ error: [], result: { token: 'tok-kr', expires: 900 } })));
    try {
      assert.equal(await ex.authenticate(), 'tok-kr');
      const [r] = sent;
      const where = new URL(r.url).pathname;
      assert.deepEqual([r.method, where, r.headers['API-Key']], ['POST', '/0/private/GetWebSocketsToken', c.apiKey]);
      const nonce = new URLSearchParams(r.body).get('nonce');
      freshMs(nonce.length > 13 ? Number(nonce.slice(0, 13)) : nonce);
      const inner = crypto.createHash('sha256').update(nonce + r.body).digest();
      assert.equal(r.headers['API-Sign'], hmac('sha512', Buffer.from(c.secret, 'base64'), Buffer.concat([Buffer.from(where), inner]), 'base64'));
      noSecretIn(ex, c);
    } finally {
      await ex.close();
    }

    // MEXC spot: authenticate() POSTs /api/v3/userDataStream (signature in the query).
    c = LOGIN.mexc;
    ({ ex, sent } = await restEx('mexc', c, () => ({ listenKey: 'lk-mx' })));
    try {
      assert.equal(await ex.authenticate('spot'), 'lk-mx');
      const [r] = sent;
      const u = new URL(r.url);
      assert.deepEqual([r.method, u.pathname, r.headers['X-MEXC-APIKEY']], ['POST', '/api/v3/userDataStream', c.apiKey]);
      const query = u.search.slice(1);
      const at = query.lastIndexOf('&signature=');
      freshMs(new URLSearchParams(query.slice(0, at)).get('timestamp'));
      assert.equal(query.slice(at + '&signature='.length), hmac('sha256', c.secret, query.slice(0, at), 'hex'));
      // Its futures' login is not signed by the agent: NotSupported, not a TypeError.
      ex.markets = {};
      await assert.rejects(ex.watchBalance({ type: 'swap' }), (e) => e instanceof ccxt.NotSupported && /mexc futures/.test(e.message));
      noSecretIn(ex, c);
    } finally {
      await ex.close();
    }
  });
});
