import type { Row, Store } from '../../db/store.js';
import type { LiveCall } from './engine/live-call.js';
import type { TranscribeOptions } from './engine/transcribe.js';
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
  /** Starts transcribing a live call; undefined when no STT provider is configured. */
  startTranscribe(live: LiveCall, opts: TranscribeOptions): Promise<Row | undefined>;
  /** Stops a running transcription; false when none runs with that id. */
  stopTranscribe(transcribeId: string): Promise<boolean>;
  /** Writes an AI summary's content (in the background for `POST /aisummaries`); never rejects. */
  summarize(summary: Row): Promise<Row>;
  /** Tells a running AI action to end (its agent stops); false when none runs for that AI call. */
  terminateAicall(aicallId: string): boolean;
  /** Stops a running activeflow (and what it runs) and returns the updated row. */
  stopActiveflow(activeflow: Row): Promise<Row>;
  /** A number was deleted: the phones registered on it end their calls and are disconnected. */
  numberDeleted(number: Row): Promise<void>;
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
