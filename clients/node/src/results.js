'use strict';
// The typed results of the agent's replies.

const util = require('node:util');

/** What to send: the agent's headers (in the exchange's documented order), the parameters it
 * added to the query, the complete query, and a replacement body when the preset had to change
 * it (Kraken puts the nonce into the body); `body` is null when the client's body is unchanged. */
class SignResult {
  constructor(method, path, headers, queryAdditions, query, body) {
    this.method = method;
    this.path = path;
    this.headers = headers;
    this.queryAdditions = queryAdditions;
    this.query = query;
    this.body = body;
    Object.freeze(this);
  }

  /** Path plus `?query` when there is one: the request line's target. */
  target() {
    return this.query ? `${this.path}?${this.query}` : this.path;
  }

  /** The full URL on `base` (e.g. "https://api.bitget.com"). */
  url(base) {
    return base.replace(/\/+$/, '') + this.target();
  }

  /** The body to send: the agent's replacement if any, else `original`. */
  bodyOr(original) {
    return this.body === null ? original : this.body;
  }
}

/** A WebSocket login stamped by the agent: its fields in the exchange's order, and the message
 * to send (JSON text; "" where the exchange defines fields only). Shown by name only: some
 * logins carry the passphrase. */
class LoginResult {
  constructor(fields, message) {
    this.fields = fields;
    this.message = message;
    Object.freeze(this);
  }

  [util.inspect.custom]() {
    return `LoginResult { fields: [${Object.keys(this.fields).join(', ')}], message: <${this.message.length} chars> }`;
  }
}

module.exports = { SignResult, LoginResult };
