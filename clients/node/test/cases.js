'use strict';
// The requests every ccxt version's own signing is compared with (test/ccxt.test.js and
// test/ccxt-versions.test.js). For each exchange with an adapter, `cases/ID.js` exports
// `cred(rnd)` (a random API key, secret and passphrase of that exchange's form; `addArgs` for
// `apisec-agent add` beyond the defaults), `stamp(request)` (the agent's time in the request,
// as ccxt's milliseconds() value) and `cases` (ccxt implicit API methods and their
// parameters). An exchange without a case file, or with no case, fails here.

const crypto = require('node:crypto');

const { ADAPTERS } = require('../src/ccxt');

const T = 1767225600123; // 2026-01-01T00:00:00.123Z: the pinned clock

const EXCHANGES = Object.fromEntries(Object.keys(ADAPTERS).map((id) => {
  const file = require(`./cases/${id}`);
  if (!file.cases || !file.cases.length) throw new Error(`test/cases/${id}.js lists no case`);
  return [id, file];
}));

const CASES = Object.entries(EXCHANGES).flatMap(([id, file]) =>
  file.cases.map(([method, params]) => [id, method, params]));

/** One random credential per exchange, named `ID-TAG`, for `AgentEnv.add`. */
function credentials(tag) {
  const rnd = (n) => crypto.randomBytes(n).toString('hex');
  return Object.fromEntries(Object.entries(EXCHANGES).map(([id, file]) => [id,
    { name: `${id}-${tag}`, exchange: id, preset: ADAPTERS[id].preset, addArgs: [], ...file.cred(rnd) }]));
}

/** Adds every credential to `env` (freshness off, so the tests may pin the clock). */
function addAll(env, creds) {
  for (const c of Object.values(creds)) {
    env.add(c.name, c.preset, c.apiKey, c.secret, c.passphrase, ['--freshness', 'off', ...c.addArgs]);
  }
}

module.exports = { T, CASES, EXCHANGES, credentials, addAll };
