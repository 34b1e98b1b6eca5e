'use strict';
// `Agent`: one persistent connection to apisec-agent. Requests are written as they come
// (pipelined) and answered strictly in order (docs/protocol.md, "Framing"), so concurrent calls
// share the connection without waiting for each other's round trips.

const net = require('node:net');

const wire = require('./wire');
const errors = require('./errors');
const { SignResult, LoginResult } = require('./results');

const {
  AgentError, AgentNotRunning, BadRequest, ClientTimeout, UnsupportedRequest, fromCode,
} = errors;

class Agent {
  /**
   * @param {string} [sock] the agent's socket; default `$APISEC_AUTH_SOCK`.
   * @param {object} [options] `timeout` (ms, every request but unlock; 30000), `unlockTimeout`
   *   (ms; 600000: it waits for a human), `connectTimeout` (ms; 5000).
   */
  constructor(sock, options = {}) {
    this.sockPath = sock !== undefined && sock !== null ? sock : process.env.APISEC_AUTH_SOCK || '';
    this.timeout = options.timeout ?? 30000;
    this.unlockTimeout = options.unlockTimeout ?? 600000;
    this.connectTimeout = options.connectTimeout ?? 5000;
    this._conn = null;
    this._ready = null; // resolves once connected
    this._pending = []; // requests written and not yet answered, oldest first
    this._buf = null; // bytes read past the last whole frame
    this._connected = false;
    this._sweeper = null;
  }

  // --- connection ---------------------------------------------------------------------------

  close() {
    this._drop(new AgentNotRunning('the client was closed'));
  }

  _drop(reason) {
    const conn = this._conn;
    this._conn = null;
    this._ready = null;
    this._buf = null;
    this._connected = false;
    const pending = this._pending;
    this._pending = [];
    if (conn) conn.destroy();
    for (const p of pending) p.fail(reason);
  }

  _connect() {
    if (!this.sockPath) {
      return Promise.reject(new AgentNotRunning(
        'APISEC_AUTH_SOCK is not set: start the agent (eval "$(apisec-agent start)") or pass the socket path'));
    }
    const conn = net.createConnection(this.sockPath);
    this._conn = conn;
    this._ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.destroy();
        reject(new AgentNotRunning(`cannot reach the agent at ${this.sockPath}: no answer within ${this.connectTimeout} ms`));
      }, this.connectTimeout);
      conn.once('connect', () => {
        clearTimeout(timer);
        if (this._conn === conn) this._connected = true;
        if (this._pending.length === 0) conn.unref();
        resolve(conn);
      });
      conn.once('error', (e) => {
        clearTimeout(timer);
        reject(new AgentNotRunning(`cannot reach the agent at ${this.sockPath}: ${e.code || e.message}; is it running?`));
      });
    });
    // A failed connect must not become an unhandled rejection when nothing awaits it.
    this._ready.catch(() => {});
    conn.on('data', (chunk) => this._onData(conn, chunk));
    conn.on('error', () => {});
    conn.on('close', () => this._onClose(conn));
    return this._ready;
  }

  _onClose(conn) {
    if (this._conn !== conn) return;
    this._conn = null;
    this._ready = null;
    this._buf = null;
    this._connected = false;
    const pending = this._pending;
    this._pending = [];
    for (const p of pending) p.closed();
  }

  _onData(conn, chunk) {
    if (this._conn !== conn) return;
    let buf = this._buf ? Buffer.concat([this._buf, chunk]) : chunk;
    this._buf = null;
    while (buf.length >= 4) {
      const length = buf.readUInt32BE(0);
      try {
        wire.checkFrameLength(length);
      } catch (e) {
        this._drop(new AgentError(`malformed reply from the agent: ${e.message}`, 'internal'));
        return;
      }
      if (buf.length < 4 + length) break;
      const type = buf[4];
      const payload = buf.subarray(5, 4 + length);
      buf = buf.subarray(4 + length);
      const p = this._pending[0];
      if (!p) {
        this._drop(new AgentError('the agent sent a reply nobody asked for', 'internal'));
        return;
      }
      p.gotBytes = true;
      let done;
      try {
        done = p.onFrame(type, payload);
      } catch (e) {
        // The stream cannot be trusted after a malformed frame: start afresh.
        this._drop(e instanceof wire.WireError
          ? new AgentError(`malformed reply from the agent: ${e.message}`, 'internal') : e);
        return;
      }
      if (done) {
        this._pending.shift();
        if (this._pending.length === 0) conn.unref();
      }
      if (this._conn !== conn) return; // a handler dropped the connection
    }
    if (buf.length) this._buf = Buffer.from(buf);
  }

  /** Sends one extension request; resolves with the reply's details. A connection the agent
   * closed before answering (agent restarted) is replaced once, transparently, unless
   * `retry` is false (an unlock: a second request would show the owner a second prompt). */
  _request(frame, name, timeout, onProgress, retry = true) {
    return new Promise((resolve, reject) => {
      new Pending(this, frame, name, timeout, onProgress, retry, resolve, reject).send();
    });
  }

  _write(entry) {
    this._pending.push(entry);
    // The connection keeps the process alive only while a request waits on it.
    if (this._pending.length === 1) this._conn.ref();
    this._conn.write(entry.request);
    this._watchDeadlines();
  }

  /** One timer for every waiting request's deadline (checked every SWEEP_MS), rather than a
   * timer set and cleared per request; it stops when nothing waits. */
  _watchDeadlines() {
    if (this._sweeper) return;
    this._sweeper = setInterval(() => {
      if (this._pending.length === 0) {
        clearInterval(this._sweeper);
        this._sweeper = null;
        return;
      }
      const now = performance.now();
      const late = this._pending.find((p) => now >= p.deadline);
      if (late) late.expire();
    }, SWEEP_MS);
    this._sweeper.unref();
  }

  // --- operations ---------------------------------------------------------------------------

  /**
   * Signs one request with secret `name`. `query` is sent as given (already encoded, without
   * '?'); `body` is the exact body. Leave `timestamp`/`nonce` undefined so the agent stamps its
   * own clock. `host`: for an exchange that signs it (HTX). Send `result.query` (and
   * `result.body` when set): the agent may re-encode what it signs.
   */
  async sign(name, method, path, { query = '', body = '', timestamp, nonce, host } = {}) {
    let frame;
    try {
      frame = wire.encodeSign(name, method, path, query || '', body ?? '',
        timestamp === undefined || timestamp === null ? '' : String(timestamp),
        nonce === undefined || nonce === null ? '' : String(nonce), host || '');
    } catch (e) {
      if (e instanceof wire.FrameTooLarge) throw new BadRequest(e.message, 'bad-request');
      throw e;
    }
    const details = await this._request(frame, 'sign@apisec', this.timeout);
    const r = decodeOrDrop(this, wire.decodeSign, details);
    return new SignResult(method, path, r.headers, r.queryAdditions, r.query, r.body);
  }

  /** A WebSocket login for secret `name` (its policy must say `allow_login = true`). */
  async login(name, { kind = '', challenge = '', host = '' } = {}) {
    const frame = wire.encodeLogin(name, kind || '', challenge || '', host || '');
    const r = decodeOrDrop(this, wire.decodeLogin, await this._request(frame, 'login@apisec', this.timeout));
    return new LoginResult(r.fields, r.message);
  }

  /** Unseals `names` (one approval for all); resolves when approved, rejects when denied or
   * timed out. Resolves to {name: forgetAt} (Unix seconds, 0 = kept until lock). */
  async unlock(names, { onProgress } = {}) {
    const list = Array.isArray(names) ? names : [names];
    const frame = wire.encodeUnlock(list, Boolean(onProgress));
    return decodeOrDrop(this, wire.decodeUnlock,
      await this._request(frame, 'unlock@apisec', this.unlockTimeout, onProgress, false));
  }

  /** Forgets (zeroizes) the named unsealed secrets, or all when none is named. */
  async lock(names = []) {
    const list = Array.isArray(names) ? names : [names];
    return decodeOrDrop(this, wire.decodeLock,
      await this._request(wire.encodeLock(list), 'lock@apisec', this.timeout));
  }

  async status() {
    let details;
    try {
      details = await this._request(wire.encodeStatus(true), 'status@apisec', this.timeout);
    } catch (e) {
      if (!(e instanceof BadRequest)) throw e;
      // An agent that predates the notes reads no details and calls the flag malformed.
      details = await this._request(wire.encodeStatus(false), 'status@apisec', this.timeout);
    }
    const s = decodeOrDrop(this, wire.decodeStatus, details);
    s.secret = (name) => s.secrets.find((e) => e.name === name);
    return s;
  }

  /** Raw MAC (only for secrets added with --allow-raw); `encoding`: hex, base64 or raw. */
  async mac(name, algorithm, data, encoding = 'hex') {
    if (!['hex', 'base64', 'raw'].includes(encoding)) {
      throw new TypeError("encoding must be 'hex', 'base64' or 'raw'");
    }
    const mac = decodeOrDrop(this, wire.decodeMac,
      await this._request(wire.encodeMac(name, algorithm, data), 'mac@apisec', this.timeout));
    return encoding === 'raw' ? mac : mac.toString(encoding);
  }

  /** The extension names the agent answers. */
  async query() {
    return decodeOrDrop(this, wire.decodeQuery,
      await this._request(wire.encodeQuery(), 'query', this.timeout));
  }

  async approvals() {
    return decodeOrDrop(this, wire.decodeApprovals,
      await this._request(wire.encodeApprovals(), 'approvals@apisec', this.timeout));
  }

  async approve(id) {
    await this._request(wire.encodeAnswer(id, true), 'answer@apisec', this.timeout);
  }

  async deny(id) {
    await this._request(wire.encodeAnswer(id, false), 'answer@apisec', this.timeout);
  }
}

// How often waiting requests' deadlines are checked: a timeout ends at most this late.
const SWEEP_MS = 50;

/** One request written to the agent (or about to be), until its reply frame comes. */
class Pending {
  constructor(agent, frame, name, timeout, onProgress, retry, resolve, reject) {
    this.agent = agent;
    this.request = frame;
    this.name = name;
    this.timeout = timeout;
    this.onProgress = onProgress;
    this.retry = retry;
    this.resolve = resolve;
    this.reject = reject;
    this.prefix = replyPrefix(name);
    this.deadline = performance.now() + timeout;
    this.attempts = 0;
    this.gotBytes = false;
    this.settled = false;
  }

  send() {
    this.attempts += 1;
    const agent = this.agent;
    if (agent._conn && agent._connected) {
      agent._write(this);
      return;
    }
    const ready = agent._conn ? agent._ready : agent._connect();
    ready.then((conn) => {
      if (this.settled) return;
      if (conn !== agent._conn) {
        this.closed();
        return;
      }
      agent._write(this);
    }, (e) => this.fail(e));
  }

  /** A frame of the reply; true when it was the last one. */
  onFrame(type, payload) {
    if (type === wire.SSH_AGENT_EXTENSION_RESPONSE) {
      const prefix = this.prefix;
      if (payload.length >= prefix.length && payload.compare(prefix, 0, prefix.length, 0, prefix.length) === 0) {
        this.settle(null, payload.subarray(prefix.length));
        return true;
      }
      const [got, details] = wire.splitExtensionReply(payload);
      if (got === wire.PROGRESS) {
        if (this.onProgress) this.onProgress(wire.decodeProgress(details));
        return false;
      }
      throw new wire.WireError(`the agent answered ${JSON.stringify(got)} to ${JSON.stringify(this.name)}`);
    }
    if (type === wire.SSH_AGENT_EXTENSION_FAILURE) {
      const [code, message] = wire.decodeFailure(payload);
      this.settle(fromCode(code, message));
      return true;
    }
    if (type === wire.SSH_AGENT_FAILURE) {
      this.settle(new UnsupportedRequest(
        `the agent does not support ${this.name} (is this an apisec-agent socket?)`));
      return true;
    }
    throw new wire.WireError(`unexpected message type ${type} in reply to ${this.name}`);
  }

  settle(error, details) {
    if (this.settled) return;
    this.settled = true;
    if (error) this.reject(error);
    else this.resolve(details);
  }

  fail(e) {
    this.settle(e);
  }

  closed() {
    if (this.retry && !this.gotBytes && this.attempts === 1 && !this.settled) {
      this.send();
    } else {
      this.settle(new AgentNotRunning('the agent closed the connection mid-reply'));
    }
  }

  /** Its deadline passed: a late reply would be taken for the answer to the next request, so
   * the connection is dropped and the requests behind it fail too. */
  expire() {
    const agent = this.agent;
    agent._pending = agent._pending.filter((p) => p !== this);
    this.settle(new ClientTimeout(`no answer from the agent within ${this.timeout} ms`));
    agent._drop(new ClientTimeout(
      `the connection was dropped: an earlier request got no answer within ${this.timeout} ms`));
  }
}

const PREFIXES = new Map();
function replyPrefix(name) {
  let p = PREFIXES.get(name);
  if (!p) {
    const n = Buffer.from(name, 'utf8');
    p = Buffer.concat([wire.u32(n.length), n]);
    PREFIXES.set(name, p);
  }
  return p;
}

function decodeOrDrop(agent, decode, details) {
  try {
    return decode(details);
  } catch (e) {
    if (!(e instanceof wire.WireError)) throw e;
    agent._drop(new AgentError(`malformed reply from the agent: ${e.message}`, 'internal'));
    throw new AgentError(`malformed reply from the agent: ${e.message}`, 'internal');
  }
}

module.exports = { Agent };
