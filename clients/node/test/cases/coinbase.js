'use strict';
// Coinbase Advanced (test/cases.js): a CDP key, its name the API key and its secret a P-256
// private key (SEC1 PEM, the form ccxt's JavaScript ecdsa() reads), imported into the agent
// with --private-key-file (`add`, used by addAll). Its JWT carries a random nonce, so `sent`
// (applied by test/compare.js) compares everything else byte for byte: the JWT header but its
// nonce, the claims but ccxt's legacy ones (iss "coinbase-cloud", aud, iat; the agent's iss is
// "cdp", as Coinbase's SDK writes), and verifies both ES256 signatures with node:crypto.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { attached, refused } = require('../compare');

const CDP_CLAIMS = ['exp', 'iss', 'nbf', 'sub', 'uri'];
const KEYS = new Map(); // API key -> its private key (PEM), to verify the JWTs named by it

function jwtParts(token) {
  const [head, claims] = token.split('.').slice(0, 2).map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()));
  return { head, claims };
}

function bearer(req) {
  const auth = req.headers.Authorization;
  if (!auth.startsWith('Bearer ')) throw new Error(`not a bearer token: ${auth}`);
  return auth.slice('Bearer '.length);
}

/** Whether `token`'s ES256 signature verifies with the public half of `privatePem`. */
function verifiesEs256(token, privatePem) {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  if (signature.length !== 64) return false; // r || s, 32 bytes each
  return crypto.verify('sha256', Buffer.from(token.slice(0, dot)),
    { key: crypto.createPublicKey(privatePem), dsaEncoding: 'ieee-p1363' }, signature);
}

function key(apiKey) {
  const secret = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' });
  KEYS.set(apiKey, secret);
  return { apiKey, secret };
}

module.exports = {
  cred: (rnd) => ({
    ...key(`organizations/org-t/apiKeys/${rnd(8)}`),
    // The agent takes an asymmetric key as a key file, not as --secret-file.
    add(env, c, extra) {
      const file = path.join(env.root, `${c.name}.pem`);
      fs.writeFileSync(file, c.secret, { mode: 0o600 });
      try {
        env.run('apisec-agent', ['add', c.name, '--exchange', c.preset, '--api-key', c.apiKey, '--private-key-file', file, ...extra]);
      } finally {
        fs.rmSync(file, { force: true });
      }
    },
  }),
  stamp: (r) => jwtParts(bearer(r)).claims.nbf * 1000,
  sent(got, want, assert) {
    const [token, wantToken] = [bearer(got), bearer(want)];
    const [mine, ccxts] = [jwtParts(token), jwtParts(wantToken)];
    const secret = KEYS.get(ccxts.head.kid);
    assert.ok(secret, 'ccxt\'s JWT names no key of these tests');
    for (const { head } of [mine, ccxts]) {
      assert.deepEqual(Object.keys(head).sort(), ['alg', 'kid', 'nonce', 'typ']);
      assert.deepEqual({ alg: head.alg, kid: head.kid, typ: head.typ }, { alg: 'ES256', kid: ccxts.head.kid, typ: 'JWT' });
      assert.ok(typeof head.nonce === 'string' && head.nonce.length > 0);
    }
    assert.deepEqual(Object.keys(mine.claims).sort(), CDP_CLAIMS);
    for (const k of ['sub', 'nbf', 'exp', 'uri']) assert.equal(mine.claims[k], ccxts.claims[k], k);
    const url = new URL(got.url);
    assert.equal(mine.claims.uri, `${got.method} ${url.hostname}${url.pathname}`);
    assert.equal(mine.claims.iss, 'cdp');
    assert.equal(ccxts.claims.iss, 'coinbase-cloud');
    assert.ok(verifiesEs256(token, secret), 'the agent\'s JWT does not verify');
    assert.ok(verifiesEs256(wantToken, secret), 'ccxt\'s JWT does not verify (the check is broken)');
    // Everything but the JWT byte for byte.
    return { ...want, headers: { ...want.headers, Authorization: got.headers.Authorization } };
  },
  cases: [
    ['v3PrivateGetBrokerageAccounts', { limit: '5' }],
    ['v3PrivateGetBrokerageOrdersHistoricalBatch', { product_ids: ['BTC-USD'], order_status: 'OPEN', cursor: 'a b/c+d%e#f\u20ac' }],
    ['v3PrivatePostBrokerageOrders', { client_order_id: 'apisec-c-1', product_id: 'BTC-USD', side: 'BUY', order_configuration: { limit_limit_gtc: { base_size: '0.01', limit_price: '20000' } } }],
    ['v2PrivateGetAccounts', {}],
  ],
  tests: {
    'each JWT carries its own nonce': async ({ ccxt, cred, agent, assert }) => {
      const { ex, seen } = await attached(ccxt, cred, agent);
      await ex.v3PrivateGetBrokerageAccounts({});
      await ex.v3PrivateGetBrokerageAccounts({});
      const nonces = seen.map((r) => jwtParts(bearer(r)).head.nonce);
      assert.equal(nonces.length, 2);
      assert.notEqual(nonces[0], nonces[1]);
    },
    'a GET parameter given twice is ccxt.NotSupported, nothing sent': async ({ ccxt, cred, agent, assert }) => {
      const e = await refused(ccxt, cred, agent, 'v3PrivateGetBrokerageOrdersHistoricalBatch', { order_status: ['OPEN', 'FILLED'] });
      assert.ok(e instanceof ccxt.NotSupported && /"order_status" several times/.test(e.message), e);
    },
    'another host is ccxt.NotSupported, nothing sent': async ({ ccxt, cred, agent, assert }) => {
      const e = await refused(ccxt, cred, agent, 'v3PrivateGetBrokerageAccounts', {}, (ex) => { ex.urls.api.rest = 'https://api.example.com'; });
      assert.ok(e instanceof ccxt.NotSupported && /api\.coinbase\.com/.test(e.message), e);
    },
    'a caller-set Authorization is ccxt\'s, sent as it is': async ({ ccxt, cred, agent, assert }) => {
      const { ex, seen } = await attached(ccxt, cred, agent);
      ex.headers = { Authorization: 'Bearer from-elsewhere' };
      await ex.v2PrivateGetAccounts({});
      assert.deepEqual(seen[0].headers, { Authorization: 'Bearer from-elsewhere', 'Content-Type': 'application/json' });
    },
  },
};
