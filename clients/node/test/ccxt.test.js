'use strict';
// The ccxt adapter through a real agent: every case equals ccxt's own signing with the secret
// (clock pinned), and the agent's own clock too; then ccxt and ccxt.pro against the local Bitget
// exchange (examples/local_exchange, run with $APISEC_PYTHON), which verifies every signature
// and login with the secret only it and the agent hold.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ccxt = require('ccxt');
const apisec = require('..');
const { attach, checkVersion } = require('../src/ccxt');
const { AgentEnv, REPO } = require('./env');
const { T, CASES, EXCHANGES, credentials, addAll } = require('./cases');
const { reference, adapted, sameRequest, capture } = require('./compare');

const rnd = (n) => crypto.randomBytes(n).toString('hex');
const CREDS = credentials('t');
const LIVE = { apiKey: `bg_live_${rnd(4)}`, secret: rnd(24), passphrase: `live-${rnd(3)}` };

function startServer(root, script, args) {
  const python = process.env.APISEC_PYTHON || 'python3';
  const child = spawn(python, [path.join(REPO, 'examples', 'local_exchange', script), '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}): ${err} (APISEC_PYTHON=${python}; ws_server.py needs aiohttp)`)));
  });
}

test('the ccxt adapter', async (t) => {
  const env = new AgentEnv();
  const servers = [];
  t.after(async () => {
    for (const s of servers) s.kill();
    await env.close();
  });
  env.init();
  addAll(env, CREDS);
  const logins = path.join(env.root, 'logins.toml');
  fs.writeFileSync(logins, 'allow_login = true\n');
  env.add('bitget-live', 'bitget', LIVE.apiKey, LIVE.secret, LIVE.passphrase, ['--policy', logins]);
  env.add('bitget-nologin', 'bitget', LIVE.apiKey, LIVE.secret, LIVE.passphrase);
  env.add('sealed-t', 'bitget', 'bg_sealed', 'never-unlocked', 'p');
  await env.start();
  env.unlock(...Object.values(CREDS).map((c) => c.name), 'bitget-live', 'bitget-nologin');
  const agent = new apisec.Agent(env.socket);
  t.after(() => agent.close());

  for (const [exchange, method, params] of CASES) {
    await t.test(`${exchange} ${method} equals ccxt's own signing`, async () => {
      const want = await reference(ccxt, CREDS[exchange], T, method, params);
      const { request } = await adapted(ccxt, CREDS[exchange], agent, T, method, params);
      sameRequest(assert, request, want);
    });
    await t.test(`${exchange} ${method} stamped by the agent equals ccxt at that time`, async () => {
      const { request } = await adapted(ccxt, CREDS[exchange], agent, undefined, method, params);
      const stamped = EXCHANGES[exchange].stamp(request);
      assert.ok(Math.abs(stamped - Date.now()) < 60000, 'not the agent\'s clock');
      sameRequest(assert, request, await reference(ccxt, CREDS[exchange], stamped, method, params));
    });
  }

  // Each exchange's own checks (refusals and the like); test/ccxt-versions.test.js runs those
  // of an exchange only some ccxt versions have.
  for (const [exchange, file] of Object.entries(EXCHANGES)) {
    if (file.versions) continue;
    for (const [name, check] of Object.entries(file.tests || {})) {
      await t.test(`${exchange}: ${name}`, () => check({ ccxt, cred: CREDS[exchange], agent, assert }));
    }
  }

  await t.test('an exchange only older ccxt versions have is not in this one', () => {
    for (const [exchange, file] of Object.entries(EXCHANGES)) {
      if (!file.versions) continue;
      assert.ok(file.versions.length > 0 && file.cases.length > 0, `${exchange}: no version or no case`);
      assert.equal(ccxt[exchange], undefined, `ccxt ${ccxt.version} has ${exchange} again: drop \`versions\` from test/cases/${exchange}.js so its cases run here too`);
    }
  });

  await t.test('refusals are ccxt\'s error classes, never a TypeError', async () => {
    // The capture replaces ccxt's network (the adapter's fetch calls it): set before attach.
    const ex = new ccxt.bitget({ enableRateLimit: false });
    capture(ex);
    await attach(ex, 'bitget-t', { agent, ccxt });
    await assert.rejects(ex.privateSpotPostV2SpotWalletWithdrawal({ coin: 'USDT', size: '1', address: 'x', chain: 'trc20', transferType: 'on_chain' }), ccxt.PermissionDenied);
    await assert.rejects(ex.privateSpotGetV2SpotTradeUnfilledOrders({ clientOid: 'a&symbol=X' }), ccxt.BadRequest);
    const err = await ex.privateSpotPostV2SpotWalletWithdrawal({ coin: 'USDT' }).catch((e) => e);
    assert.ok(err.cause instanceof apisec.PolicyRefused);
    const sealed = new ccxt.bitget({ enableRateLimit: false });
    capture(sealed);
    await attach(sealed, 'sealed-t', { agent, ccxt });
    const e2 = await sealed.privateSpotGetV2SpotAccountAssets({}).catch((e) => e);
    assert.ok(e2 instanceof ccxt.AuthenticationError && e2.cause instanceof apisec.SecretSealed);
    assert.throws(() => String(ex.secret), ccxt.NotSupported);
    assert.throws(() => ex.hmac(ex.encode('x'), ex.encode(ex.secret)), ccxt.NotSupported);
    await assert.rejects(attach(new ccxt.bitflyer(), 'bitget-t', { agent, ccxt }), ccxt.NotSupported);
    await assert.rejects(attach(new ccxt.binance(), 'bitget-t', { agent, ccxt }), /is a bitget secret, not binance/);
    await assert.rejects(attach(new ccxt.bitget({ secret: 'x' }), 'bitget-t', { agent, ccxt }), /holds a secret/);
    await assert.rejects(attach(new ccxt.bitget({ apiKey: 'other' }), 'bitget-t', { agent, ccxt }), /differs/);
    await assert.rejects(attach(new ccxt.bitget(), 'nope', { agent, ccxt }), ccxt.AuthenticationError);
    // Public endpoints are ccxt's, unchanged.
    const pub = new ccxt.binance({ enableRateLimit: false });
    const seen = capture(pub);
    await attach(pub, 'binance-t', { agent, ccxt });
    await pub.publicGetTickerPrice({ symbol: 'BTCUSDT' });
    assert.equal(seen[0].url, 'https://api.binance.com/api/v3/ticker/price?symbol=BTCUSDT');
  });

  await t.test('versions: older refused, newer warned', () => {
    assert.throws(() => checkVersion(ccxt, '4.5.75'), ccxt.NotSupported);
    assert.throws(() => checkVersion(ccxt, '4.4.99'), /older than 4\.5\.76/);
    let warned = '';
    const onWarning = (w) => { warned = w.message; };
    process.on('warning', onWarning);
    checkVersion(ccxt, '4.6.0');
    return new Promise((r) => setImmediate(r)).then(() => {
      process.off('warning', onWarning);
      assert.match(warned, /newer than 4\.5\.84/);
    });
  });

  await t.test('against the local exchange: REST and ccxt.pro', async () => {
    const creds = path.join(env.root, 'live.json');
    fs.writeFileSync(creds, JSON.stringify({ api_key: LIVE.apiKey, secret: LIVE.secret, passphrase: LIVE.passphrase }), { mode: 0o600 });
    const wsCreds = path.join(env.root, 'ws.json');
    fs.writeFileSync(wsCreds, JSON.stringify({ bitget: { api_key: LIVE.apiKey, secret: LIVE.secret, passphrase: LIVE.passphrase }, bybit: { api_key: 'unused', secret: 'unused' } }), { mode: 0o600 });
    const log = path.join(env.root, 'requests.jsonl');
    const http = await startServer(env.root, 'server.py', ['--credentials', creds, '--log-file', log]);
    servers.push(http.child);
    const ws = await startServer(env.root, 'ws_server.py', ['--credentials', wsCreds]);
    servers.push(ws.child);
    const api = {};
    for (const k of Object.keys(new ccxt.bitget().urls.api)) api[k] = http.url;
    api.ws = { public: `${ws.url}/v2/ws/public`, private: `${ws.url}/v2/ws/private` };

    const ex = await attach(new ccxt.bitget({ enableRateLimit: false, urls: { api } }), 'bitget-live', { agent, ccxt });
    assert.equal((await ex.fetchBalance()).USDT.free, 10000);
    const order = await ex.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 20000);
    assert.equal((await ex.fetchOrder(order.id, 'BTC/USDT')).status, 'open');
    await ex.cancelOrder(order.id, 'BTC/USDT');
    const balances = await Promise.all([ex.fetchBalance(), ex.fetchBalance()]);
    assert.deepEqual(balances.map((b) => b.USDT.free), [10000, 10000]);
    const seen = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => !r.public);
    for (const [m, p] of [['GET', '/api/v2/spot/account/assets'], ['POST', '/api/v2/spot/trade/place-order'],
      ['GET', '/api/v2/spot/trade/orderInfo'], ['POST', '/api/v2/spot/trade/cancel-order']]) {
      assert.ok(seen.some((r) => r.method === m && r.path === p && r.status === 200 && r.key === LIVE.apiKey), `${m} ${p} not accepted: ${JSON.stringify(seen)}`);
    }
    // Nothing refused for its signature (ccxt's account-mode probe is "not found" here).
    assert.deepEqual(seen.filter((r) => r.status !== 200 && r.code !== '40404'), []);

    const proEx = await attach(new ccxt.pro.bitget({ enableRateLimit: false, urls: { api } }), 'bitget-live', { agent, ccxt });
    await proEx.loadHttpProxyAgent(); // ccxt's requirement for a ws:// (not wss://) URL
    try {
      const balance = await proEx.watchBalance();
      assert.equal(balance.USDT.free, 10000);
    } finally {
      await proEx.close();
    }
    const noLogin = await attach(new ccxt.pro.bitget({ enableRateLimit: false, urls: { api } }), 'bitget-nologin', { agent, ccxt });
    await noLogin.loadHttpProxyAgent();
    try {
      await assert.rejects(noLogin.watchBalance(), (e) => e instanceof ccxt.PermissionDenied && /allow_login/.test(e.message));
    } finally {
      await noLogin.close();
    }
    // No secret on any instance; the passphrase, which Bitget sends in clear in a header of
    // every request, only in ccxt's record of the last request's headers.
    for (const instance of [ex, proEx]) {
      const state = require('node:util').inspect({ ...instance, last_request_headers: undefined }, { depth: 6 });
      assert.ok(!state.includes(LIVE.secret) && !state.includes(LIVE.passphrase));
    }
  });
});
