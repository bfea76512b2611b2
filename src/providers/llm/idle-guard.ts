/**
 * The abort signal of one streamed LLM request: it follows the caller's signal, and aborts when
 * the stream goes idle for `timeoutMs` (the SDKs' own timeouts end at the response headers, so a
 * body that stalls would otherwise hang the turn).
 */
export interface IdleGuard {
  /** Pass to the SDK call. */
  readonly signal: AbortSignal;
  /** (Re)starts the idle timer: call before the request and on every chunk. */
  arm(): void;
  /** True once the idle timer fired. */
  readonly timedOut: boolean;
  /** Stops the timer, aborts (releasing the connection if the stream was left early), unhooks the caller's signal. */
  dispose(): void;
}

export function idleGuard(callerSignal: AbortSignal | undefined, timeoutMs: number): IdleGuard {
  const ctl = new AbortController();
  const onAbort = (): void => ctl.abort(callerSignal?.reason);
  if (callerSignal?.aborted) onAbort();
  else callerSignal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  return {
    signal: ctl.signal,
    arm() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        ctl.abort();
      }, timeoutMs);
    },
    get timedOut() {
      return timedOut;
    },
    dispose() {
      clearTimeout(timer);
      ctl.abort();
      callerSignal?.removeEventListener('abort', onAbort);
    },
  };
}
