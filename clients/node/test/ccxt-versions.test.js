'use strict';
// The ccxt adapter across the supported range: the oldest ccxt it supports (4.5.76) and one in
// the middle (4.5.81), besides the newest (4.5.84, package-lock.json's, the other tests'): every
// case of test/cases.js equals that version's own signing with the secret (pinned clock),
// through a real agent; an exchange only some versions have (BitMEX) runs its cases there. Each
// older ccxt is installed from npm into the repository's target/ccxt-js-versions/VERSION the
// first time.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const apisec = require('..');
const { AgentEnv, REPO } = require('./env');
const { T, CASES, EXCHANGES, onlyIn, credentials, addAll } = require('./cases');
const { reference, adapted, sameRequest } = require('./compare');

const VERSIONS = ['4.5.76', '4.5.81'];

function installed(version) {
  const dir = path.join(REPO, 'target', 'ccxt-js-versions', version);
  const main = path.join(dir, 'node_modules', 'ccxt');
  if (!fs.existsSync(path.join(main, 'package.json'))) {
    fs.mkdirSync(dir, { recursive: true });
    const out = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--ignore-scripts', '--no-audit',
      '--no-fund', '--loglevel=error', `ccxt@${version}`], { encoding: 'utf8', timeout: 300000 });
    if (out.status !== 0) throw new Error(`npm install ccxt@${version} failed: ${out.stderr}`);
  }
  return require(require.resolve('ccxt', { paths: [dir] }));
}

test('every case equals each supported ccxt\'s own signing', async (t) => {
  const creds = credentials('v');
  const env = new AgentEnv();
  t.after(() => env.close());
  env.init();
  addAll(env, creds);
  await env.start();
  env.unlock(...Object.values(creds).map((c) => c.name));
  const agent = new apisec.Agent(env.socket);
  t.after(() => agent.close());
  assert.ok(CASES.length > 5);
  for (const [exchange, file] of Object.entries(EXCHANGES)) {
    for (const v of file.versions || []) assert.ok(VERSIONS.includes(v), `${exchange}: ccxt ${v} is not one this test runs`);
  }
  for (const version of VERSIONS) {
    const ccxt = installed(version);
    assert.equal(ccxt.version, version);
    for (const [exchange, method, params] of CASES) {
      await t.test(`ccxt ${version}: ${exchange} ${method}`, async () => {
        const want = await reference(ccxt, creds[exchange], T, method, params);
        const { request } = await adapted(ccxt, creds[exchange], agent, T, method, params);
        sameRequest(assert, request, want);
      });
    }
    // The exchanges only some versions have (test/cases.js): their cases, pinned and stamped by
    // the agent, and their own checks, each counted: none may be skipped.
    for (const exchange of onlyIn(version)) {
      const file = EXCHANGES[exchange];
      const cred = creds[exchange];
      assert.equal(typeof ccxt[exchange], 'function', `ccxt ${version} has no ${exchange} class`);
      assert.ok(file.cases.length > 0, `test/cases/${exchange}.js lists no case`);
      let ran = 0;
      for (const [method, params] of file.cases) {
        await t.test(`ccxt ${version}: ${exchange} ${method}`, async () => {
          const want = await reference(ccxt, cred, T, method, params);
          const { request } = await adapted(ccxt, cred, agent, T, method, params);
          sameRequest(assert, request, want);
          ran += 1;
        });
        await t.test(`ccxt ${version}: ${exchange} ${method} stamped by the agent`, async () => {
          const { request } = await adapted(ccxt, cred, agent, undefined, method, params);
          const stamped = file.stamp(request);
          assert.ok(Math.abs(stamped - Date.now()) < 60000, 'not the agent\'s clock');
          sameRequest(assert, request, await reference(ccxt, cred, stamped, method, params));
          ran += 1;
        });
      }
      for (const [name, check] of Object.entries(file.tests || {})) {
        await t.test(`ccxt ${version}: ${exchange}: ${name}`, async () => {
          await check({ ccxt, cred, agent, assert });
          ran += 1;
        });
      }
      await t.test(`ccxt ${version}: every ${exchange} case and check ran`, () => {
        assert.equal(ran, 2 * file.cases.length + Object.keys(file.tests || {}).length);
      });
    }
  }
});
