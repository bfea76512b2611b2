/**
 * Ends the work a previous process left unfinished.
 *
 * Live calls, running flows, AI sessions, transcriptions and summaries exist only in the memory
 * of the process that ran them. When that process dies (kill -9, a crash, a power cut) their rows
 * stay `progressing` / `running` forever, and a client polling them would wait for nothing. The
 * process that next owns the database ends them, once, before its call engine starts, with a
 * reason a client can read.
 *
 * It must run only in the process that owns the database (see src/local/discovery.ts): on a
 * database another live process serves it would end that process's real calls.
 */
import type { Row, Store } from '../../db/store.js';
import type { Logger } from '../util/logger.js';
import { nowTimestamp } from '../util/time.js';

/** The reason written on everything a restart ends. */
export const RESTART_REASON = 'the server restarted';

/** Call statuses of a call that is not over (VoIPBIN's CallManagerCallStatus minus `hangup`). */
export const UNFINISHED_CALL_STATUSES = ['dialing', 'ringing', 'progressing', 'terminating', 'canceling'] as const;
/** AI call statuses of an AI call that is not over (AIManagerAIcallStatus minus `terminated`). */
export const UNFINISHED_AICALL_STATUSES = ['initiating', 'progressing', 'pausing', 'paused', 'resuming', 'terminating'] as const;

/** How many rows of each kind {@link recoverInterruptedWork} ended. */
export interface RecoveryReport {
  calls: number;
  activeflows: number;
  aicalls: number;
  transcribes: number;
  aisummaries: number;
}

async function rowsWithStatus(repo: Store['calls'], statuses: readonly string[]): Promise<Row[]> {
  const out: Row[] = [];
  for (const s of statuses) out.push(...(await repo.findBy('status', s)));
  return out;
}

/**
 * Ends every row a previous process left unfinished:
 * - calls (`dialing`, `ringing`, `progressing`, ...): status `hangup`, `hangup_by` `local`,
 *   `hangup_reason` `failed` (VoIPBIN's enum has no "restart"; `failed` is the one that says the
 *   call did not end normally), `metadata.termination_reason` "the server restarted";
 * - activeflows `running`: status `ended`, `termination_reason` "the server restarted";
 * - AI calls not `terminated`: status `terminated`, `tm_end` now,
 *   `metadata.termination_reason` "the server restarted" (where the flow engine puts its reasons);
 * - transcribes `progressing`: status `done`, `termination_reason` "the server restarted";
 * - AI summaries `progressing`: status `failed`, `failure_reason` "the server restarted" (the
 *   same names src/local/summaries.ts uses for a summary that could not be written).
 * Rows are found through the indexed `status` column (migration 003). Returns the counts.
 */
export async function recoverInterruptedWork(store: Store, logger: Logger): Promise<RecoveryReport> {
  const report: RecoveryReport = { calls: 0, activeflows: 0, aicalls: 0, transcribes: 0, aisummaries: 0 };

  for (const call of await rowsWithStatus(store.calls, UNFINISHED_CALL_STATUSES)) {
    const now = nowTimestamp();
    await store.calls.update({
      ...call,
      status: 'hangup',
      hangup_by: 'local',
      hangup_reason: 'failed',
      metadata: { ...((call.metadata as object | null) ?? {}), termination_reason: RESTART_REASON },
      tm_hangup: now,
      tm_update: now,
    });
    report.calls++;
  }
  for (const af of await rowsWithStatus(store.activeflows, ['running'])) {
    await store.activeflows.update({ ...af, status: 'ended', termination_reason: RESTART_REASON, tm_update: nowTimestamp() });
    report.activeflows++;
  }
  for (const ac of await rowsWithStatus(store.aicalls, UNFINISHED_AICALL_STATUSES)) {
    const now = nowTimestamp();
    await store.aicalls.update({
      ...ac,
      status: 'terminated',
      metadata: { ...((ac.metadata as object | null) ?? {}), termination_reason: RESTART_REASON },
      tm_end: now,
      tm_update: now,
    });
    report.aicalls++;
  }
  for (const t of await rowsWithStatus(store.transcribes, ['progressing'])) {
    await store.transcribes.update({ ...t, status: 'done', termination_reason: RESTART_REASON, tm_update: nowTimestamp() });
    report.transcribes++;
  }
  for (const s of await rowsWithStatus(store.aisummaries, ['progressing'])) {
    await store.aisummaries.update({ ...s, status: 'failed', failure_reason: RESTART_REASON, tm_update: nowTimestamp() });
    report.aisummaries++;
  }

  const total = Object.values(report).reduce((a, b) => a + b, 0);
  if (total > 0) logger.warn('ended work a previous process left unfinished', { reason: RESTART_REASON, ...report });
  return report;
}
