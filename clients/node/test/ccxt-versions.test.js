'use strict';
// The ccxt adapter across the supported range: the oldest ccxt it supports (4.5.76) and one in
// the middle (4.5.81), besides the newest (4.5.84, package-lock.json's, the other tests'): every
// case of test/cases.js equals that version's own signing with the secret (pinned clock),
// through a real agent. Each older ccxt is installed from npm into the repository's
// target/ccxt-js-versions/VERSION the first time.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const apisec = require('..');
const { AgentEnv, REPO } = require('./env');
const { T, CASES, credentials, addAll } = require('./cases');
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
  }
});
