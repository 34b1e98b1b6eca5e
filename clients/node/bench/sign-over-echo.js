'use strict';
// The Node client's sign round trip against a bare Node round trip of the same frames to an
// echo over the same kind of socket (a Unix socket), everything pinned to one core, in the same
// run: the client's own cost (encoding, decoding, result objects) as a ratio (target <= 1.5).
//
//   node bench/sign-over-echo.js [--rounds R] [--iterations N] [--json FILE]
//
// The three round trips (to the echo, bare to the agent, the client's sign) are measured in turn,
// N of each per round (1,000), R rounds (10); each p50 is over all of its rounds.
//
// It starts an agent on a fresh SoftHSM token ($APISEC_BIN_DIR's binaries; the release ones
// for figures worth quoting) and re-runs itself under `taskset -c 0`.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const { Agent } = require('..');
const wire = require('../src/wire');
const { AgentEnv } = require('../test/env');

const CPU = '0';
const PATH_ = '/api/v2/spot/trade/place-order';
const BODY = '{"symbol":"BTCUSDT","side":"buy","orderType":"limit","force":"gtc","price":"23222.5","size":"1"}';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const median = (a) => Float64Array.from(a).sort()[Math.floor(a.length / 2)];

/** p50 of each of `kinds` (name -> one round trip), measured in turn in `rounds` rounds of
 * `n` round trips each (after a few untimed ones): a drift of the machine over the run then
 * falls on every kind alike, where one block per kind would give it to one of them. Returns
 * {name: p50 over every round} and, per round, each kind's p50. */
async function measure(kinds, rounds, n) {
  const samples = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const perRound = [];
  for (let round = 0; round < rounds; round++) {
    const p50s = {};
    for (const [name, once] of Object.entries(kinds)) {
      for (let i = 0; i < 100; i++) await once();
      const t = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const s = process.hrtime.bigint();
        await once();
        t[i] = Number(process.hrtime.bigint() - s) / 1000;
      }
      samples[name].push(...t);
      p50s[name] = median(t);
    }
    perRound.push(p50s);
  }
  return { p50: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])), perRound };
}

function echoServer(sock) {
  const code = `require('node:net').createServer((c) => c.on('data', (d) => c.write(d))).listen(${JSON.stringify(sock)}, () => console.log('ready'))`;
  const child = spawn('taskset', ['-c', CPU, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout.once('data', () => resolve(child)));
}

/** A bare client of the echo: write the frame, wait for the whole frame back. */
function bareRoundTrip(sock, frame) {
  const c = net.createConnection(sock);
  let waiting = null;
  let got = [];
  let have = 0;
  c.on('data', (d) => {
    got.push(d);
    have += d.length;
    if (have >= frame.length) {
      const w = waiting;
      waiting = null;
      got = [];
      have = 0;
      w();
    }
  });
  return new Promise((ready) => c.once('connect', () => ready({
    once: () => new Promise((resolve) => { waiting = resolve; c.write(frame); }),
    close: () => c.destroy(),
  })));
}

/** A bare client of the agent: write a frame, wait for one whole reply frame. */
function bareRoundTripAny(sock) {
  const c = net.createConnection(sock);
  let waiting = null;
  let buf = Buffer.alloc(0);
  c.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      buf = Buffer.alloc(0);
      const w = waiting;
      waiting = null;
      w();
    }
  });
  return new Promise((ready) => c.once('connect', () => ready({
    once: (frame) => new Promise((resolve) => { waiting = resolve; c.write(frame); }),
    close: () => c.destroy(),
  })));
}

async function main() {
  if (process.env.APISEC_BENCH_PINNED !== '1') {
    const out = spawnSync('taskset', ['-c', CPU, process.execPath, __filename, ...process.argv.slice(2)],
      { stdio: 'inherit', env: { ...process.env, APISEC_BENCH_PINNED: '1' } });
    process.exit(out.status ?? 1);
  }
  const n = Number(arg('--iterations', '1000'));
  const rounds = Number(arg('--rounds', '10'));
  const env = new AgentEnv('apisec-node-bench-', { fresh: true });
  let echo;
  try {
    env.init();
    env.add('s0000', 'bitget', 'bg_bench', '0123456789abcdef0123456789abcdef', 'bench-pass');
    await env.start();
    env.unlock('s0000');
    spawnSync('taskset', ['-a', '-p', '-c', CPU, String(env.agent.pid)]);
    const sock = path.join(env.root, 'echo.sock');
    echo = await echoServer(sock);
    const agent = new Agent(env.socket);
    const frame = wire.encodeSign('s0000', 'POST', PATH_, '', BODY, '', '');
    const bare = await bareRoundTrip(sock, frame);
    const rows = {};
    // The same bare client against the agent: what the agent itself adds on this core.
    const raw = await bareRoundTripAny(env.socket);
    const { p50, perRound } = await measure({
      echo: bare.once,
      raw: () => raw.once(frame),
      sign: () => agent.sign('s0000', 'POST', PATH_, { body: BODY }),
    }, rounds, n);
    rows.node_echo_p50_us = p50.echo;
    rows.node_raw_sign_p50_us = p50.raw;
    rows.node_sign_p50_us = p50.sign;
    const perRoundRatio = perRound.map((r) => r.sign / r.echo);
    rows.node_sign_over_echo_round_min = Math.min(...perRoundRatio);
    rows.node_sign_over_echo_round_max = Math.max(...perRoundRatio);
    raw.close();
    rows.node_sign_over_echo = rows.node_sign_p50_us / rows.node_echo_p50_us;
    console.log(`Node client sign p50                               ${rows.node_sign_p50_us.toFixed(2)} us`);
    console.log(`Node bare round trip to the echo (same frames) p50 ${rows.node_echo_p50_us.toFixed(2)} us`);
    console.log(`Node bare round trip to the agent (nothing decoded) p50 ${rows.node_raw_sign_p50_us.toFixed(2)} us`);
    console.log(`Node client sign p50 / bare round trip p50 (target <= 1.5) ${rows.node_sign_over_echo.toFixed(2)} x`);
    console.log(`  the same ratio in each of the ${rounds} rounds: ${rows.node_sign_over_echo_round_min.toFixed(2)} to ${rows.node_sign_over_echo_round_max.toFixed(2)} x`);
    const json = arg('--json');
    if (json) fs.writeFileSync(json, `${JSON.stringify(rows, null, 2)}\n`);
    bare.close();
    agent.close();
  } finally {
    if (echo) echo.kill();
    await env.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
