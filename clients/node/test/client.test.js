'use strict';
// The Node client: its bytes against docs/protocol.md's examples, then against a real agent on
// a fresh SoftHSM token, each signature checked with node:crypto and the secret only the test
// and the agent know.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const wire = require('../src/wire');
const apisec = require('..');
const { AgentEnv } = require('./env');

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('requests and replies are the bytes of docs/protocol.md', () => {
  assert.deepEqual(wire.encodeSign('bg', 'GET', '/p', 'a=1', '', '', ''), hex(`
    00 00 00 36 1b 00 00 00 0b 73 69 67 6e 40 61 70 69 73 65 63
    00 00 00 02 62 67  00 00 00 03 47 45 54  00 00 00 02 2f 70  00 00 00 03 61 3d 31
    00 00 00 00  00 00 00 00  00 00 00 00`));
  assert.deepEqual(wire.encodeUnlock(['bg'], true), hex(`
    00 00 00 20 1b 00 00 00 0d 75 6e 6c 6f 63 6b 40 61 70 69 73 65 63
    00 00 00 01 00 00 00 01 00 00 00 02 62 67`));
  assert.deepEqual(wire.encodeLock([]), hex('00 00 00 14 1b 00 00 00 0b 6c 6f 63 6b 40 61 70 69 73 65 63 00 00 00 00'));
  assert.deepEqual(wire.encodeStatus(true), hex('00 00 00 16 1b 00 00 00 0d 73 74 61 74 75 73 40 61 70 69 73 65 63 00 00 00 01'));
  assert.deepEqual(wire.encodeLogin('bg', '', '', ''), hex(`
    00 00 00 23 1b 00 00 00 0c 6c 6f 67 69 6e 40 61 70 69 73 65 63
    00 00 00 02 62 67 00 00 00 00 00 00 00 00 00 00 00 00`));
  assert.deepEqual(wire.encodeMac('raw', 'hmac-sha256', 'hi'), hex(`
    00 00 00 2b 1b 00 00 00 0a 6d 61 63 40 61 70 69 73 65 63 00 00 00 03 72 61 77
    00 00 00 0b 68 6d 61 63 2d 73 68 61 32 35 36 00 00 00 02 68 69`));
  // The host is a trailing field, sent only when named.
  assert.ok(wire.encodeSign('h', 'GET', '/p', '', '', '', '', 'api.hbdm.com').toString().endsWith('api.hbdm.com'));
  const reply = hex(`00 00 00 2e 1d 00 00 00 0b 73 69 67 6e 40 61 70 69 73 65 63
    00 00 00 01 00 00 00 01 4b 00 00 00 01 76 00 00 00 00 00 00 00 03 61 3d 31 00 00 00 00 00`);
  const [name, details] = wire.splitExtensionReply(reply.subarray(5));
  assert.equal(name, 'sign@apisec');
  assert.deepEqual(wire.decodeSign(details), { headers: { K: 'v' }, queryAdditions: {}, query: 'a=1', body: null });
  const unlock = hex(`00 00 00 24 1d 00 00 00 0d 75 6e 6c 6f 63 6b 40 61 70 69 73 65 63
    00 00 00 01 00 00 00 02 62 67 00 00 00 00 00 00 00 00`);
  assert.deepEqual(wire.decodeUnlock(wire.splitExtensionReply(unlock.subarray(5))[1]), { bg: 0 });
});

test('every cut of a reply, a byte more, a bad flag or bad UTF-8 is a WireError', () => {
  const [, details] = wire.splitExtensionReply(hex(`00 00 00 0b 73 69 67 6e 40 61 70 69 73 65 63
    00 00 00 01 00 00 00 01 4b 00 00 00 01 76 00 00 00 00 00 00 00 03 61 3d 31 01 00 00 00 01 7a`));
  assert.deepEqual(wire.decodeSign(details).body, Buffer.from('z'));
  for (let cut = 0; cut < details.length; cut++) {
    assert.throws(() => wire.decodeSign(details.subarray(0, cut)), wire.WireError);
  }
  assert.throws(() => wire.decodeSign(Buffer.concat([details, Buffer.from([0])])), /trailing/);
  const badFlag = Buffer.from(details);
  badFlag[details.length - 6] = 2;
  assert.throws(() => wire.decodeSign(badFlag), /boolean/);
  const badText = Buffer.from(details);
  badText[13] = 0xff; // the header's value "v"
  assert.throws(() => wire.decodeSign(badText), /UTF-8/);
  // Lengths and a body of any bytes are not text: a 200-byte value (a length byte 0xc8) and a
  // replaced body that is not UTF-8 decode.
  const long = 'v'.repeat(200);
  const details2 = Buffer.concat([wire.u32(1), wire.u32(1), Buffer.from('K'), wire.u32(200), Buffer.from(long),
    wire.u32(0), wire.u32(0), Buffer.from([1]), wire.u32(2), Buffer.from([0xff, 0xfe])]);
  assert.deepEqual(wire.decodeSign(details2), { headers: { K: long }, queryAdditions: {}, query: '', body: Buffer.from([0xff, 0xfe]) });
  assert.throws(() => wire.checkFrameLength(wire.MAX_FRAME + 1), wire.FrameTooLarge);
  assert.throws(() => wire.encodeSign('x', 'POST', '/p', '', Buffer.alloc(wire.MAX_FRAME), '', ''), wire.FrameTooLarge);
});

test('a sign request is the same bytes on every path through its encoder', () => {
  // Laid out here field by field (RFC 4251 strings: u32 length, then the UTF-8 bytes), as
  // docs/protocol.md gives them, against the encoder's kept request starts.
  const str = (v) => { const b = Buffer.isBuffer(v) ? v : Buffer.from(v); return Buffer.concat([wire.u32(b.length), b]); };
  const expected = (fields) => {
    const payload = Buffer.concat([Buffer.from([0x1b]), ...['sign@apisec', ...fields].map(str)]);
    return Buffer.concat([wire.u32(payload.length), payload]);
  };
  const cases = [
    ['bg', 'GET', '/p', 'a=1', '', '', ''],
    ['ключ', 'POST', '/путь/é', 'q=é', '{"x":"ü"}', '1700000000000', 'n1'],
    ['bg', 'POST', '/p', '', Buffer.from([0, 0xff, 0x80]), '', ''],
    ['bg', 'POST', '/p', '', new Uint8Array([1, 2, 3]), '', '', 'api.hbdm.com'],
    ['h', 'GET', '/p', '', '', '', '', 'ápi.example'],
  ];
  for (let round = 0; round < 2; round++) { // the second round hits the kept starts
    for (const c of cases) {
      const fields = c.slice(0, 7).map((f) => (f instanceof Uint8Array && !Buffer.isBuffer(f) ? Buffer.from(f) : f));
      if (c[7]) fields.push(c[7]);
      assert.deepEqual(wire.encodeSign(...c), expected(fields), JSON.stringify(c));
    }
  }
  // More paths than are kept: every one still right.
  for (let i = 0; i < 1500; i++) {
    assert.deepEqual(wire.encodeSign('bg', 'GET', `/orders/${i}`, '', '', '', ''), expected(['bg', 'GET', `/orders/${i}`, '', '', '', '']));
  }
  // Names and methods that would run together in a key without their lengths.
  assert.deepEqual(wire.encodeSign('a1:b', 'GET', '/p', '', '', '', ''), expected(['a1:b', 'GET', '/p', '', '', '', '']));
  assert.deepEqual(wire.encodeSign('a', '1:bGET', '/p', '', '', '', ''), expected(['a', '1:bGET', '/p', '', '', '', '']));
});

test('a reply with text that is not ASCII decodes each field as UTF-8', () => {
  const text = (s) => { const b = Buffer.from(s); return Buffer.concat([wire.u32(b.length), b]); };
  const details = Buffer.concat([wire.u32(2), text('K'), text('välue'), text('Ж'), text('v2'),
    wire.u32(1), text('nonce'), text('1'), text('q=ü'), Buffer.from([0]), wire.u32(0)]);
  assert.deepEqual(wire.decodeSign(details), {
    headers: { K: 'välue', Ж: 'v2' }, queryAdditions: { nonce: '1' }, query: 'q=ü', body: null,
  });
});

const BITGET = { key: `bg_${crypto.randomBytes(4).toString('hex')}`, secret: crypto.randomBytes(24).toString('hex'), pass: 'node-pass-1' };
const KRAKEN = { key: `kr${crypto.randomBytes(4).toString('hex')}`, secret: crypto.randomBytes(64).toString('base64') };

function bitgetSign(secret, prehash) {
  return crypto.createHmac('sha256', secret).update(prehash).digest('base64');
}

test('against a real agent', async (t) => {
  const env = new AgentEnv();
  t.after(() => env.close());
  env.init();
  const logins = path.join(env.root, 'logins.toml');
  fs.writeFileSync(logins, 'allow_login = true\n');
  env.add('bg', 'bitget', BITGET.key, BITGET.secret, BITGET.pass, ['--policy', logins]);
  env.add('kr', 'kraken', KRAKEN.key, KRAKEN.secret);
  env.add('sealed', 'bitget', 'bg_sealed', 'never-unlocked', 'p');
  await env.start();
  env.unlock('bg', 'kr');
  const agent = new apisec.Agent(env.socket);
  t.after(() => agent.close());

  await t.test('a Bitget signature is Bitget\'s HMAC of the request', async () => {
    const body = '{"symbol":"BTCUSDT","side":"buy","orderType":"limit","force":"gtc","price":"20000","size":"0.01"}';
    const r = await agent.sign('bg', 'POST', '/api/v2/spot/trade/place-order', { body });
    const ts = r.headers['ACCESS-TIMESTAMP'];
    assert.ok(Math.abs(Number(ts) - Date.now()) < 60000);
    assert.equal(r.headers['ACCESS-KEY'], BITGET.key);
    assert.equal(r.headers['ACCESS-PASSPHRASE'], BITGET.pass);
    assert.equal(r.headers['ACCESS-SIGN'], bitgetSign(BITGET.secret, `${ts}POST/api/v2/spot/trade/place-order${body}`));
    assert.equal(r.body, null);
    assert.equal(r.url('https://api.bitget.com/'), 'https://api.bitget.com/api/v2/spot/trade/place-order');
  });

  await t.test('a Kraken body comes back with the nonce, signed as Kraken documents', async () => {
    const r = await agent.sign('kr', 'POST', '/0/private/Balance', { body: '' });
    const body = r.body.toString();
    const nonce = /^nonce=(\d+)$/.exec(body)[1];
    const digest = crypto.createHash('sha256').update(nonce + body).digest();
    const want = crypto.createHmac('sha512', Buffer.from(KRAKEN.secret, 'base64'))
      .update(Buffer.concat([Buffer.from('/0/private/Balance'), digest])).digest('base64');
    assert.equal(r.headers['API-Sign'], want);
  });

  await t.test('concurrent signatures share the connection, each one right', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      agent.sign('bg', 'GET', '/api/v2/spot/account/assets', { query: `coin=C${i}` })));
    results.forEach((r, i) => {
      const ts = r.headers['ACCESS-TIMESTAMP'];
      assert.equal(r.query, `coin=C${i}`);
      assert.equal(r.headers['ACCESS-SIGN'], bitgetSign(BITGET.secret, `${ts}GET/api/v2/spot/account/assets?coin=C${i}`));
    });
  });

  await t.test('each refusal is its error class, and the connection stays usable', async () => {
    await assert.rejects(agent.sign('sealed', 'GET', '/api/v2/spot/account/assets'), apisec.SecretSealed);
    await assert.rejects(agent.sign('nope', 'GET', '/api/v2/spot/account/assets'), apisec.SecretNotFound);
    await assert.rejects(agent.sign('bg', 'POST', '/api/v2/spot/wallet/withdrawal', { body: '{}' }), apisec.PolicyRefused);
    await assert.rejects(agent.sign('bg', 'GET', '/api/v2/../v2/spot/account/assets'), apisec.SignError);
    await assert.rejects(agent.mac('bg', 'hmac-sha256', 'x'), apisec.PolicyRefused);
    const err = await agent.sign('sealed', 'GET', '/api/v2/spot/account/assets').catch((e) => e);
    assert.ok(err instanceof apisec.AgentError && err.code === 'sealed');
    assert.ok(!err.message.includes(BITGET.secret));
    assert.ok((await agent.query()).includes('sign@apisec'));
  });

  await t.test('status, login, lock', async () => {
    const s = await agent.status();
    assert.equal(s.secret('bg').apiKey, BITGET.key);
    assert.equal(s.secret('bg').unsealed, true);
    assert.equal(s.secret('sealed').unsealed, false);
    const login = await agent.login('bg');
    const m = JSON.parse(login.message);
    const a = m.args[0];
    assert.equal(a.apiKey, BITGET.key);
    assert.equal(a.sign, bitgetSign(BITGET.secret, `${a.timestamp}GET/user/verify`));
    assert.ok(!require('node:util').inspect(login).includes(BITGET.pass));
    await assert.rejects(agent.login('kr'), apisec.AgentError);
    assert.equal(await agent.lock(['kr']), 1);
    await assert.rejects(agent.sign('kr', 'POST', '/0/private/Balance'), apisec.SecretSealed);
  });

  await t.test('a script that signs and never closes its Agent still exits', () => {
    // The connection keeps the process alive only while a request waits on it.
    const script = `const { Agent } = require(${JSON.stringify(require.resolve('..'))});
      new Agent(${JSON.stringify(env.socket)}).sign('bg', 'GET', '/api/v2/spot/account/assets')
        .then((r) => console.log(r.headers['ACCESS-KEY']));`;
    const out = require('node:child_process').spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout.trim(), BITGET.key);
  });

  await t.test('a restarted agent is reconnected to, transparently', async () => {
    // It stops the agent: one of its own, even when APISEC_AUTH_SOCK names one.
    const own = new AgentEnv('apisec-node-restart-', { fresh: true });
    const client = new apisec.Agent(own.socket);
    try {
      own.init();
      own.add('bg', 'bitget', BITGET.key, BITGET.secret, BITGET.pass);
      await own.start();
      own.unlock('bg');
      const before = (await client.status()).pid;
      const exited = new Promise((r) => own.agent.once('exit', r));
      own.agent.kill('SIGTERM');
      await exited;
      await own.start();
      own.unlock('bg');
      const s = await client.status();
      assert.notEqual(s.pid, before);
      const r = await client.sign('bg', 'GET', '/api/v2/spot/account/assets');
      assert.equal(r.headers['ACCESS-KEY'], BITGET.key);
    } finally {
      client.close();
      await own.close();
    }
  });
});

test('no agent, a silent agent, and a bad frame are errors that say so', async (t) => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'apisec-node-silent-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(new apisec.Agent(path.join(dir, 'none.sock')).status(), apisec.AgentNotRunning);
  await assert.rejects(new apisec.Agent('').status(), /APISEC_AUTH_SOCK is not set/);

  const sock = path.join(dir, 'silent.sock');
  const conns = [];
  const server = net.createServer((c) => {
    conns.push(c);
    c.on('data', () => {
      // The second connection answers with a frame longer than the protocol allows.
      if (conns.length === 2) c.write(wire.u32(wire.MAX_FRAME + 1));
    });
  });
  await new Promise((r) => server.listen(sock, r));
  t.after(() => { conns.forEach((c) => c.destroy()); server.close(); });
  const agent = new apisec.Agent(sock, { timeout: 300 });
  const start = Date.now();
  const pipelined = agent.sign('x', 'GET', '/p').catch((e) => e);
  await assert.rejects(agent.sign('x', 'GET', '/q'), apisec.ClientTimeout);
  assert.ok(Date.now() - start >= 250);
  assert.ok((await pipelined) instanceof apisec.ClientTimeout);
  await assert.rejects(agent.sign('x', 'GET', '/p'), /malformed reply from the agent/);
  agent.close();
});

test('every export is importable by name from ESM, as the README imports it', async () => {
  const { pathToFileURL } = require('node:url');
  const mod = await import(pathToFileURL(require.resolve('..')).href);
  const adapter = await import(pathToFileURL(require.resolve('../src/ccxt')).href);
  for (const name of Object.keys(apisec)) assert.ok(name in mod, `${name} is not a named export`);
  assert.equal(typeof adapter.attach, 'function');
});
