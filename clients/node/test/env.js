'use strict';
// The agent the tests use. By default a fresh one on its own SoftHSM token, as clients/python's
// AgentEnv: its own SOFTHSM2_CONF, a private HOME with XDG directories, a scripted approver, and
// the real binaries ($APISEC_BIN_DIR, else the repository's target/debug). When the environment
// names an agent with APISEC_AUTH_SOCK, that one instead: a test agent of the owner's, whose
// config (`$APISEC_CONFIG`, else the default one of this environment's HOME) the tests add
// their secrets to with `apisec-agent add`, unlock through its socket with its own approver,
// and remove at the end (a secret of the same name already there fails `add`: use an agent
// kept for tests). A missing prerequisite is an error with the remedy, never a skipped test.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn, spawnSync } = require('node:child_process');

const PIN = '123456';
const SO_PIN = '65432100';
const TOKEN_LABEL = 'apisec-test';
const KEY_LABEL = 'apisec-wrap';
const REPO = path.resolve(__dirname, '..', '..', '..');

const APPROVER = `#!/bin/sh
echo "$1" >> @DIR@/approver.log
cat > /dev/null
case "$(cat @DIR@/approver.mode)" in
  approve) exit 0 ;;
  *) exit 1 ;;
esac
`;

function binary(name) {
  const dir = process.env.APISEC_BIN_DIR || path.join(REPO, 'target', 'debug');
  const p = path.join(dir, name);
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run \`cargo build --workspace --bins\` first`);
  return p;
}

/** Whether something accepts connections on the Unix socket `sock`. */
function answers(sock) {
  return new Promise((resolve) => {
    const c = net.createConnection(sock);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

class AgentEnv {
  /** `fresh`: a fresh agent even when APISEC_AUTH_SOCK names one (a test that stops it). */
  constructor(prefix = 'apisec-node-', { fresh = false } = {}) {
    this.external = !fresh && Boolean(process.env.APISEC_AUTH_SOCK);
    this.added = [];
    this.agent = null;
    if (this.external) {
      this.root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      this.socket = process.env.APISEC_AUTH_SOCK;
      return;
    }
    this.module = process.env.APISEC_TEST_PKCS11_MODULE || '/usr/lib/softhsm/libsofthsm2.so';
    if (!fs.existsSync(this.module)) {
      throw new Error(`SoftHSM module ${this.module} is missing: apt-get install softhsm2`);
    }
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.home = path.join(this.root, 'home');
    const tokens = path.join(this.root, 'tokens');
    const run = path.join(this.root, 'run');
    for (const d of [this.home, tokens, run]) fs.mkdirSync(d, { recursive: true });
    fs.chmodSync(run, 0o700);
    this.softhsmConf = path.join(this.root, 'softhsm2.conf');
    fs.writeFileSync(this.softhsmConf,
      `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    this.socket = path.join(run, 'apisec', 'agent.sock');
    this.pinFile = path.join(this.root, 'pin');
    fs.writeFileSync(this.pinFile, `${PIN}\n`, { mode: 0o600 });
    this.approver = path.join(this.root, 'approver.sh');
    fs.writeFileSync(this.approver, APPROVER.replaceAll('@DIR@', this.root), { mode: 0o700 });
    fs.writeFileSync(path.join(this.root, 'approver.mode'), 'approve');
    this.agent = null;
    this.check(spawnSync('softhsm2-util', ['--init-token', '--free', '--label', TOKEN_LABEL,
      '--pin', PIN, '--so-pin', SO_PIN], { env: this.env() }), 'softhsm2-util --init-token');
  }

  env(extra = {}) {
    // The named agent's own environment: its config, store and token are found from it.
    if (this.external) return { ...process.env, ...extra };
    return {
      PATH: process.env.PATH || '/usr/bin:/bin',
      HOME: this.home,
      XDG_CONFIG_HOME: path.join(this.home, '.config'),
      XDG_DATA_HOME: path.join(this.home, '.local/share'),
      XDG_STATE_HOME: path.join(this.home, '.local/state'),
      XDG_RUNTIME_DIR: path.join(this.root, 'run'),
      SOFTHSM2_CONF: this.softhsmConf,
      APISEC_AUTH_SOCK: this.socket,
      ...extra,
    };
  }

  check(out, what) {
    if (out.error) throw new Error(`${what}: ${out.error.message}`);
    if (out.status !== 0) {
      throw new Error(`${what} failed (${out.status}):\n${out.stdout}\n${out.stderr}`);
    }
    return out;
  }

  run(exe, args) {
    const out = this.check(spawnSync(binary(exe), args, { env: this.env(), encoding: 'utf8', timeout: 120000 }),
      `${exe} ${args[0]}`);
    // Every secret a test adds, however: a named agent's store gets them back at close.
    if (exe === 'apisec-agent' && args[0] === 'add') this.added.push(args[1]);
    return out;
  }

  init() {
    if (this.external) return; // the named agent's token and config are set up already
    this.run('apisec-agent', ['init', '--pkcs11-module', this.module, '--token-label', TOKEN_LABEL,
      '--key-label', KEY_LABEL, '--generate', '--pin-file', this.pinFile]);
  }

  /** Seals a secret through files that exist only for the duration of `add`. */
  add(name, exchange, apiKey, secret, passphrase, extra = []) {
    const secretFile = path.join(this.root, `${name}.secret`);
    const passFile = path.join(this.root, `${name}.passphrase`);
    fs.writeFileSync(secretFile, secret, { mode: 0o600 });
    const args = ['add', name, '--exchange', exchange, '--api-key', apiKey, '--secret-file', secretFile];
    if (passphrase !== undefined && passphrase !== null) {
      fs.writeFileSync(passFile, passphrase, { mode: 0o600 });
      args.push('--passphrase-file', passFile);
    }
    try {
      this.run('apisec-agent', [...args, ...extra]);
    } finally {
      fs.rmSync(secretFile, { force: true });
      fs.rmSync(passFile, { force: true });
    }
  }

  /** `apisec-agent run --approver SCRIPT` in the foreground; resolves once it listens. */
  async start() {
    if (this.external) {
      if (!(await answers(this.socket))) throw new Error(`no agent answers at APISEC_AUTH_SOCK=${this.socket}: start it, or unset the variable for a fresh one`);
      return;
    }
    const log = fs.openSync(path.join(this.root, 'agent.log'), 'a');
    this.agent = spawn(binary('apisec-agent'), ['run', '--approver', this.approver],
      { env: this.env(), stdio: ['ignore', 'ignore', log] });
    const deadline = Date.now() + 20000;
    for (;;) {
      if (this.agent.exitCode !== null) throw new Error(`the agent exited at start: ${this.log()}`);
      if (await answers(this.socket)) return;
      if (Date.now() > deadline) throw new Error(`the agent did not listen: ${this.log()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  unlock(...names) {
    this.run('apisec', ['unlock', ...names]);
  }

  log() {
    const p = path.join(this.root, 'agent.log');
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '';
  }

  async close() {
    if (this.external) {
      // What the tests added leaves the named agent's store and memory.
      for (const name of this.added.splice(0)) this.run('apisec-agent', ['remove', name]);
    }
    if (this.agent && this.agent.exitCode === null) {
      const exited = new Promise((r) => this.agent.once('exit', r));
      this.agent.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

module.exports = { AgentEnv, REPO, binary };
