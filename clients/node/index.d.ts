// Types of the apisec-agent Node client (index.js). Times are milliseconds; forget times are
// Unix seconds, as the agent sends them.

export interface AgentOptions {
  /** Every request but unlock (ms; default 30000). */
  timeout?: number;
  /** unlock, which waits for a human (ms; default 600000). */
  unlockTimeout?: number;
  /** Connecting to the socket (ms; default 5000). */
  connectTimeout?: number;
}

export interface SignOptions {
  /** Sent as given: already encoded, without '?'. */
  query?: string;
  /** The exact body. */
  body?: string | Uint8Array;
  /** Leave undefined: the agent stamps its own clock. */
  timestamp?: string | number;
  /** Leave undefined: the agent chooses (a client nonce needs freshness off). */
  nonce?: string | number;
  /** For an exchange that signs its host (HTX). */
  host?: string;
}

export class SignResult {
  readonly method: string;
  readonly path: string;
  /** The headers to send, in the exchange's documented order. */
  readonly headers: Record<string, string>;
  readonly queryAdditions: Record<string, string>;
  /** The complete query to send (without '?'): the agent may re-encode what it signs. */
  readonly query: string;
  /** The body to send instead of the client's, or null when unchanged. */
  readonly body: Buffer | null;
  target(): string;
  url(base: string): string;
  bodyOr<T>(original: T): T | Buffer;
}

export class LoginResult {
  /** The login's fields, in the exchange's order. */
  readonly fields: Record<string, string>;
  /** The message to send (JSON text), or "" where the exchange defines fields only. */
  readonly message: string;
}

export interface SecretStatus {
  name: string;
  exchange: string;
  apiKey: string;
  unsealed: boolean;
  expires: string;
  forgetAt: number;
  problem: string;
  weakenedBy: string[];
}

export interface AgentStatus {
  version: string;
  pid: number;
  locked: boolean;
  secrets: SecretStatus[];
  secret(name: string): SecretStatus | undefined;
}

export interface WaitingApproval {
  id: number;
  line: string;
  prompt: string;
  waitedSecs: number;
}

export class Agent {
  /** `sock` defaults to $APISEC_AUTH_SOCK. */
  constructor(sock?: string | null, options?: AgentOptions);
  readonly sockPath: string;
  sign(name: string, method: string, path: string, options?: SignOptions): Promise<SignResult>;
  login(name: string, options?: { kind?: string; challenge?: string; host?: string }): Promise<LoginResult>;
  unlock(names: string | string[], options?: { onProgress?: (line: string) => void }): Promise<Record<string, number>>;
  lock(names?: string | string[]): Promise<number>;
  status(): Promise<AgentStatus>;
  mac(name: string, algorithm: 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512', data: string | Uint8Array, encoding?: 'hex' | 'base64'): Promise<string>;
  mac(name: string, algorithm: 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512', data: string | Uint8Array, encoding: 'raw'): Promise<Buffer>;
  query(): Promise<string[]>;
  approvals(): Promise<WaitingApproval[]>;
  approve(id: number): Promise<void>;
  deny(id: number): Promise<void>;
  close(): void;
}

/** The agent refused or failed; `code` is the protocol's code, `agentMessage` its sentence. */
export class AgentError extends Error {
  readonly code: string;
  readonly agentMessage: string;
  static readonly code: string;
}
export class AgentNotRunning extends AgentError {}
export class ClientTimeout extends AgentError {}
export class UnsupportedRequest extends AgentError {}
export class BadRequest extends AgentError {}
export class SecretNotFound extends AgentError {}
export class SecretSealed extends AgentError {}
export class ApprovalDenied extends AgentError {}
export class ApprovalTimeout extends AgentError {}
export class PolicyRefused extends AgentError {}
export class BadEntry extends AgentError {}
export class TokenError extends AgentError {}
export class AgentLocked extends AgentError {}
export class SignError extends AgentError {}
export function fromCode(code: string, message: string): AgentError;
export const version: string;
