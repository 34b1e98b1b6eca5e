'use strict';
// Byte-level encoding of the agent protocol (docs/protocol.md): frames, RFC 4251 fields, the
// apisec extension requests and replies. Pure functions, no I/O, so every byte can be tested
// against the examples in the protocol document.

// The agent refuses (and closes on) a frame whose length field exceeds this; the client refuses
// to send one, and to read one, for the same reason: a bad length cannot be re-synchronised.
const MAX_FRAME = 262144;

const SSH_AGENT_FAILURE = 5;
const SSH_AGENTC_EXTENSION = 27;
const SSH_AGENT_EXTENSION_FAILURE = 28;
const SSH_AGENT_EXTENSION_RESPONSE = 29;

const PROGRESS = 'progress@apisec';
const UNLOCK_FLAG_PROGRESS = 1;
const STATUS_FLAG_NOTES = 1;

class WireError extends Error {}
class FrameTooLarge extends WireError {}

function u32(value) {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

function bytes(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return Buffer.from(String(value), 'utf8');
}

/** An extension request, written into one buffer: [u32 length][27][string name][fields]. A
 * field is a number (u32), RawBytes (as they are), a Buffer/Uint8Array or a string (a string
 * field, UTF-8). Every signature's request goes through here: lengths first, then one
 * allocation and the strings written in place. */
function extension(name, fields) {
  let length = 1 + 4 + Buffer.byteLength(name);
  for (const f of fields) {
    if (typeof f === 'string') length += 4 + Buffer.byteLength(f);
    else if (typeof f === 'number') length += 4;
    else if (f instanceof RawBytes) length += f.bytes.length;
    else length += 4 + f.length;
  }
  if (length > MAX_FRAME) {
    throw new FrameTooLarge(
      `request of ${length} bytes exceeds the agent's frame limit of ${MAX_FRAME} bytes`);
  }
  const out = Buffer.allocUnsafe(4 + length);
  out.writeUInt32BE(length, 0);
  out[4] = SSH_AGENTC_EXTENSION;
  let pos = 5;
  const putString = (str) => {
    const n = out.write(str, pos + 4, 'utf8');
    out.writeUInt32BE(n, pos);
    pos += 4 + n;
  };
  putString(name);
  for (const f of fields) {
    if (typeof f === 'string') {
      putString(f);
    } else if (typeof f === 'number') {
      out.writeUInt32BE(f >>> 0, pos);
      pos += 4;
    } else if (f instanceof RawBytes) {
      f.bytes.copy(out, pos);
      pos += f.bytes.length;
    } else {
      const b = bytes(f);
      out.writeUInt32BE(b.length, pos);
      b.copy(out, pos + 4);
      pos += 4 + b.length;
    }
  }
  return out;
}

/** Bytes put as they are (a flag byte), not as a string field. */
class RawBytes {
  constructor(b) { this.bytes = b; }
}

function list(values) {
  return [values.length, ...values];
}

// --- requests -------------------------------------------------------------------------------

const encodeQuery = () => extension('query', []);
const encodeUnlock = (names, progress) =>
  extension('unlock@apisec', [progress ? UNLOCK_FLAG_PROGRESS : 0, ...list(names)]);
const encodeLock = (names) => extension('lock@apisec', list(names));
// With notes, the request of 0.2; without, that of 0.1.0, whose reply decodeStatus also reads.
const encodeStatus = (notes) => extension('status@apisec', notes ? [STATUS_FLAG_NOTES] : []);

/** The start of a sign request, [27][string "sign@apisec"][name][method][path], kept per
 * (name, method, path): a bot signs a few of these many times, and each costs two native calls
 * per string to lay out. Bounded: paths that carry ids (`/orders/123`) would grow it without end. */
const SIGN_HEADS = new Map();
const SIGN_HEADS_MAX = 1024;

function signHead(name, method, path) {
  // Lengths first: no name or method can make two keys alike.
  const key = `${name.length}:${name}${method.length}:${method}${path}`;
  let head = SIGN_HEADS.get(key);
  if (head === undefined) {
    head = extension('sign@apisec', [name, method, path]).subarray(4);
    if (SIGN_HEADS.size >= SIGN_HEADS_MAX) SIGN_HEADS.clear();
    SIGN_HEADS.set(key, head);
  }
  return head;
}

function encodeSign(name, method, path, query, body, timestamp, nonce, host) {
  const head = signHead(name, method, path);
  const b = typeof body === 'string' ? null : bytes(body);
  // Empty fields (a query, a timestamp and a nonce usually are) cost no native call.
  const qn = query === '' ? 0 : Buffer.byteLength(query);
  const bn = b === null ? Buffer.byteLength(body) : b.length;
  const tn = timestamp === '' ? 0 : Buffer.byteLength(timestamp);
  const nn = nonce === '' ? 0 : Buffer.byteLength(nonce);
  // A trailing field, sent only when set: an agent older than it reads no host.
  const hn = host ? Buffer.byteLength(host) : -4;
  const length = head.length + 16 + qn + bn + tn + nn + 4 + hn;
  if (length > MAX_FRAME) {
    throw new FrameTooLarge(
      `request of ${length} bytes exceeds the agent's frame limit of ${MAX_FRAME} bytes`);
  }
  const out = Buffer.allocUnsafe(4 + length);
  out.writeUInt32BE(length, 0);
  head.copy(out, 4);
  let pos = 4 + head.length;
  out.writeUInt32BE(qn, pos);
  if (qn) out.write(query, pos + 4, 'utf8');
  pos += 4 + qn;
  out.writeUInt32BE(bn, pos);
  if (b === null) out.write(body, pos + 4, 'utf8');
  else b.copy(out, pos + 4);
  pos += 4 + bn;
  out.writeUInt32BE(tn, pos);
  if (tn) out.write(timestamp, pos + 4, 'utf8');
  pos += 4 + tn;
  out.writeUInt32BE(nn, pos);
  if (nn) out.write(nonce, pos + 4, 'utf8');
  pos += 4 + nn;
  if (host) {
    out.writeUInt32BE(hn, pos);
    out.write(host, pos + 4, 'utf8');
  }
  return out;
}

const encodeMac = (name, algorithm, data) => extension('mac@apisec', [name, algorithm, data]);
const encodeLogin = (name, kind, challenge, host) =>
  extension('login@apisec', [name, kind, challenge, host]);
const encodeApprovals = () => extension('approvals@apisec', []);
const encodeAnswer = (id, approve) =>
  extension('answer@apisec', [id, new RawBytes(Buffer.from([approve ? 1 : 0]))]);

// --- replies --------------------------------------------------------------------------------

/** Reads RFC 4251 fields from a payload; `end()` insists every byte was consumed. */
class Reader {
  constructor(data) {
    this.data = data;
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.data.length) throw new WireError('truncated reply from the agent');
  }

  byte() {
    this.need(1);
    return this.data[this.pos++];
  }

  boolean() {
    const b = this.byte();
    if (b !== 0 && b !== 1) throw new WireError(`boolean field holds ${b}, not 0 or 1`);
    return b === 1;
  }

  u32() {
    this.need(4);
    const v = this.data.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64() {
    this.need(8);
    const v = this.data.readBigUInt64BE(this.pos);
    this.pos += 8;
    // Unix seconds: far inside Number's exact range.
    return Number(v);
  }

  string() {
    const n = this.u32();
    this.need(n);
    const s = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  text() {
    const s = this.string();
    // A fatal decoder: bytes that are not UTF-8 are an error, not replacement characters.
    try {
      return UTF8.decode(s);
    } catch {
      throw new WireError('the agent sent a string that is not UTF-8');
    }
  }

  pairs() {
    const out = {};
    for (let i = this.u32(); i > 0; i--) {
      const k = this.text();
      out[k] = this.text();
    }
    return out;
  }

  atEnd() {
    return this.pos === this.data.length;
  }

  end() {
    if (!this.atEnd()) {
      throw new WireError(`${this.data.length - this.pos} trailing bytes in the agent's reply`);
    }
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const { isAscii, isUtf8 } = require('node:buffer');

function checkFrameLength(length) {
  if (length === 0) throw new WireError('the agent sent an empty frame');
  if (length > MAX_FRAME) {
    throw new FrameTooLarge(`the agent announced a frame of ${length} bytes (limit ${MAX_FRAME})`);
  }
}

/** An EXTENSION_RESPONSE payload: [the extension name, its details]. */
function splitExtensionReply(payload) {
  const r = new Reader(payload);
  const name = r.text();
  return [name, payload.subarray(r.pos)];
}

/** An EXTENSION_FAILURE payload: [code, message]; empty means a plain agent's `internal`. */
function decodeFailure(payload) {
  if (payload.length === 0) return ['internal', 'the agent refused the request without saying why'];
  const r = new Reader(payload);
  const code = r.text();
  const message = r.text();
  r.end();
  return [code, message];
}

function decodeWith(details, read) {
  const r = new Reader(details);
  const out = read(r);
  r.end();
  return out;
}

const decodeProgress = (d) => decodeWith(d, (r) => r.text());
const decodeUnlock = (d) => decodeWith(d, (r) => {
  const out = {};
  for (let i = r.u32(); i > 0; i--) {
    const name = r.text();
    out[name] = r.u64();
  }
  return out;
});
const decodeLock = (d) => decodeWith(d, (r) => r.u32());
const decodeQuery = (d) => decodeWith(d, (r) => {
  const out = [];
  for (let i = r.u32(); i > 0; i--) out.push(r.text());
  return out;
});
const decodeMac = (d) => decodeWith(d, (r) => Buffer.from(r.string()));

/** {headers, queryAdditions, query, body (a Buffer, or null when the body is unchanged)}.
 * Written out for speed, as every signature's reply goes through it, every length checked
 * against the end before it is taken. A reply is ASCII but for what an exchange's own values
 * bring: then the whole reply is one string and each field a slice of it (byte and character
 * offsets agree), one native call instead of two per field; otherwise each text field is
 * checked to be UTF-8 in place (a fatal check, as the Reader's) and decoded from its slice. */
function decodeSign(d) {
  const end = d.length;
  const ascii = isAscii(d) ? d.toString('latin1') : null;
  let pos = 0;
  const u32At = () => {
    if (pos + 4 > end) throw new WireError('truncated reply from the agent');
    const v = d.readUInt32BE(pos);
    pos += 4;
    return v;
  };
  const textAt = () => {
    const n = u32At();
    if (pos + n > end) throw new WireError('truncated reply from the agent');
    let t;
    if (ascii !== null) {
      t = ascii.slice(pos, pos + n);
    } else {
      if (!isUtf8(d.subarray(pos, pos + n))) throw new WireError('the agent sent a string that is not UTF-8');
      t = d.toString('utf8', pos, pos + n);
    }
    pos += n;
    return t;
  };
  const pairs = () => {
    const out = {};
    for (let i = u32At(); i > 0; i--) {
      const k = textAt();
      out[k] = textAt();
    }
    return out;
  };
  const headers = pairs();
  const queryAdditions = pairs();
  const query = textAt();
  if (pos + 1 > end) throw new WireError('truncated reply from the agent');
  const replaced = d[pos++];
  if (replaced !== 0 && replaced !== 1) throw new WireError(`boolean field holds ${replaced}, not 0 or 1`);
  const n = u32At();
  if (pos + n > end) throw new WireError('truncated reply from the agent');
  const body = replaced ? Buffer.from(d.subarray(pos, pos + n)) : null;
  pos += n;
  if (pos !== end) throw new WireError(`${end - pos} trailing bytes in the agent's reply`);
  return { headers, queryAdditions, query, body };
}

/** {fields (in the exchange's order), message (JSON text, or "")}. */
const decodeLogin = (d) => decodeWith(d, (r) => ({ fields: r.pairs(), message: r.text() }));

function decodeStatus(details) {
  return decodeWith(details, (r) => {
    const version = r.text();
    const pid = r.u32();
    const locked = r.boolean();
    const secrets = [];
    for (let i = r.u32(); i > 0; i--) {
      secrets.push({
        name: r.text(), exchange: r.text(), apiKey: r.text(), unsealed: r.boolean(),
        expires: r.text(), forgetAt: r.u64(), problem: r.text(), weakenedBy: [],
      });
    }
    // The notes are a trailing field (asked for with a flag); an older agent sends none.
    if (!r.atEnd()) {
      const n = r.u32();
      if (n !== secrets.length) throw new WireError('status reply: not one notes field per entry');
      for (const s of secrets) s.weakenedBy = r.text().split('\n').filter((l) => l !== '');
    }
    // Recipients (bit 1) are never asked for by this client; anything more is trailing bytes.
    return { version, pid, locked, secrets };
  });
}

function decodeApprovals(details) {
  return decodeWith(details, (r) => {
    const out = [];
    for (let i = r.u32(); i > 0; i--) {
      out.push({ id: r.u32(), line: r.text(), prompt: r.text(), waitedSecs: r.u32() });
    }
    return out;
  });
}

module.exports = {
  MAX_FRAME, SSH_AGENT_FAILURE, SSH_AGENTC_EXTENSION, SSH_AGENT_EXTENSION_FAILURE,
  SSH_AGENT_EXTENSION_RESPONSE, PROGRESS, WireError, FrameTooLarge, u32, checkFrameLength,
  encodeQuery, encodeUnlock, encodeLock, encodeStatus, encodeSign, encodeMac, encodeLogin,
  encodeApprovals, encodeAnswer, splitExtensionReply, decodeFailure, decodeProgress,
  decodeUnlock, decodeLock, decodeQuery, decodeMac, decodeSign, decodeLogin, decodeStatus,
  decodeApprovals,
};
