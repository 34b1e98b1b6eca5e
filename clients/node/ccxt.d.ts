// Types of the ccxt adapter (src/ccxt/index.js).
import type { Agent } from './index';

export interface AttachOptions {
  /** Default: an Agent on $APISEC_AUTH_SOCK. */
  agent?: Agent;
  /** "agent" (default): the agent stamps the time; "ccxt": ccxt's clock, within freshness. */
  clock?: 'agent' | 'ccxt';
  /** The ccxt module (default: require('ccxt')). */
  ccxt?: unknown;
}

/** Makes a ccxt exchange (REST, or ccxt.pro) sign through the agent; resolves to it. */
export function attach<T extends { id: string }>(exchange: T, secretName: string, options?: AttachOptions): Promise<T>;
export function checkVersion(ccxt: unknown, version?: string): void;
export function adapterOf(ccxt: unknown, id: string): { preset: string };
export const ADAPTERS: Record<string, { preset: string }>;
export const SUBCLASSES: Record<string, string>;
export const OLDEST: [number, number, number];
export const NEWEST: [number, number, number];
