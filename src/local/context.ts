import type { Row, Store } from '../../db/store.js';
import type { LiveCall } from './engine/live-call.js';
import type { PhoneRegistry } from './engine/phone-registry.js';
import type { Transcriptions } from './engine/transcriptions.js';
import type { AicallRegistry } from './engine/aicall-registry.js';
import type { Logger } from '../util/logger.js';
import type { KeySessions } from './key-sessions.js';

/** What the local VoIPBIN's routes and engines share. */
export interface LocalContext {
  store: Store;
  logger: Logger;
  /** Credits charged per chargeable operation. */
  prices: Prices;
  /**
   * A per-process secret that lets this process's own parts (the tool executor, MCP over the
   * in-process fetch) act as a customer without an access key. It is never stored in the database;
   * the one copy outside the process is the owner-only discovery file (src/local/discovery.ts), so a
   * `voipbin-ai mcp` on the same database can act through this process.
   */
  internalToken?: string;
  /** The call engine, when one runs calls (flows, media); without it calls are only stored. */
  engine?: CallEngine;
  /**
   * The sockets and MCP sessions each access key opened, so deleting (or the expiry of) a key
   * ends them too; see src/local/key-sessions.ts.
   */
  keySessions: KeySessions;
}

/** The seam through which the local API hands calls to the engine that runs them. */
export interface CallEngine {
  /** A call was created by `POST /calls` (already stored, status `dialing`). */
  callCreated(call: Row, variables: Record<string, string>): void;
  /** Hangs up a live call and returns the updated row. */
  hangupCall(call: Row): Promise<Row>;
  /** The live state of a call, if it is live. */
  getLive(callId: string): LiveCall | undefined;
  /** Writes an AI summary's content (in the background for `POST /aisummaries`); never rejects. */
  summarize(summary: Row): Promise<Row>;
  /** Stops a running activeflow (and what it runs) and returns the updated row. */
  stopActiveflow(activeflow: Row): Promise<Row>;
  /**
   * Transcriptions of live calls: `start` (undefined when no STT provider is configured) and
   * `stop` (false when none runs with that id).
   */
  readonly transcriptions: Pick<Transcriptions, 'start' | 'stop'>;
  /** Running AI actions: `terminate` tells one to end (its agent stops); false when none runs for that AI call. */
  readonly aicalls: Pick<AicallRegistry, 'terminate'>;
  /** Registered phones: `numberDeleted` ends the call of the phone on a deleted number and disconnects it. */
  readonly phones: Pick<PhoneRegistry, 'numberDeleted'>;
}

/** Prices in credits (the unit of `balance_credit`). */
export interface Prices {
  /** Per SMS destination. */
  messagePerDestination: number;
  /** Per email destination. */
  emailPerDestination: number;
  /** Per outgoing call destination, charged when the call is created. */
  callPerDestination: number;
}

export const DEFAULT_PRICES: Prices = {
  messagePerDestination: 10,
  emailPerDestination: 1,
  callPerDestination: 20,
};
