'use strict';
// The requests every ccxt version's own signing is compared with (test/ccxt.test.js and
// test/ccxt-versions.test.js). For each exchange with an adapter, `cases/ID.js` exports
// `cred(rnd)` (a random API key, secret and passphrase of that exchange's form; `addArgs` for
// `apisec-agent add` beyond the defaults, or `add(env, cred, extra)` to add it otherwise),
// `stamp(request)` (the agent's time in the request, as ccxt's milliseconds() value), `cases`
// (ccxt implicit API methods and their parameters) and optionally `tests` (name -> async
// ({ccxt, cred, agent, assert}), e.g. refusals). An exchange without a case file, or with no
// case, fails here.

const crypto = require('node:crypto');

const { ADAPTERS } = require('../src/ccxt');

const T = 1767225600123; // 2026-01-01T00:00:00.123Z: the pinned clock

const EXCHANGES = Object.fromEntries(Object.keys(ADAPTERS).map((id) => {
  const file = require(`./cases/${id}`);
  if (!file.cases || !file.cases.length) throw new Error(`test/cases/${id}.js lists no case`);
  return [id, file];
}));

// An exchange whose ccxt class exists only in some supported versions names them as its file's
// `versions` (BitMEX): its cases are not in CASES but run there (test/ccxt-versions.test.js).
const CASES = Object.entries(EXCHANGES).filter(([, file]) => !file.versions).flatMap(([id, file]) =>
  file.cases.map(([method, params]) => [id, method, params]));

/** The exchanges whose ccxt class only `version` of the supported ones has. */
function onlyIn(version) {
  return Object.keys(EXCHANGES).filter((id) => (EXCHANGES[id].versions || []).includes(version));
}

/** One random credential per exchange, named `ID-TAG`, for `AgentEnv.add`. */
function credentials(tag) {
  const rnd = (n) => crypto.randomBytes(n).toString('hex');
  return Object.fromEntries(Object.entries(EXCHANGES).map(([id, file]) => [id,
    { name: `${id}-${tag}`, exchange: id, preset: ADAPTERS[id].preset, addArgs: [], ...file.cred(rnd) }]));
}

/** Adds every credential to `env` (freshness off, so the tests may pin the clock). */
function addAll(env, creds) {
  for (const c of Object.values(creds)) {
    const extra = ['--freshness', 'off', ...c.addArgs];
    // `add(env, cred, extra)`: a credential added otherwise (a key file, a policy file).
    if (c.add) c.add(env, c, extra);
    else env.add(c.name, c.preset, c.apiKey, c.secret, c.passphrase, extra);
  }
}

module.exports = { T, CASES, EXCHANGES, onlyIn, credentials, addAll };
