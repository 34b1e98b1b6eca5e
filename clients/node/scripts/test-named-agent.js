'use strict';
// `npm run test:named`: the whole suite against an agent named by APISEC_AUTH_SOCK rather than
// the fresh one each test file makes (test/env.js): one started here on a fresh SoftHSM token,
// as an owner's test agent is, and the suite run with its socket and environment. The tests
// then add their secrets to its store, unlock them through its socket and remove them.

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const { AgentEnv, binary } = require('../test/env');

async function main() {
  const named = new AgentEnv('apisec-node-named-', { fresh: true });
  let status = 1;
  try {
    named.init();
    await named.start();
    const env = { ...process.env, ...named.env(), APISEC_AUTH_SOCK: named.socket };
    const out = spawnSync(process.execPath, ['--test', '--test-concurrency=1', path.join(__dirname, '..', 'test')], {
      env, stdio: 'inherit',
    });
    status = out.status ?? 1;
    // Every test file took back what it added.
    const left = spawnSync(binary('apisec-agent'), ['list', '--json'], { env, encoding: 'utf8' });
    const entries = JSON.parse(left.stdout || '[]');
    if (left.status !== 0 || entries.length !== 0) {
      console.error(`test:named: the suite left the named agent's store with ${left.stdout}${left.stderr}`);
      status = status || 1;
    }
  } finally {
    await named.close();
  }
  process.exit(status);
}

main().catch((e) => { console.error(e); process.exit(1); });
