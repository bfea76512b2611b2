/**
 * The running AI conversations (`ai_talk` / `ai` actions) by AI call id: how one is ended when
 * asked through the API (`POST /aicalls/{id}/terminate`), and whether any still runs.
 */
export class AicallRegistry {
  private readonly stops = new Map<string, () => void>();

  /** Registers the stop of a running AI action; returns the unregister (call it when the action ends). */
  register(aicallId: string, stop: () => void): () => void {
    this.stops.set(aicallId, stop);
    return () => {
      if (this.stops.get(aicallId) === stop) this.stops.delete(aicallId);
    };
  }

  /** Tells a running AI action to end; false when none runs for that AI call. */
  terminate(aicallId: string): boolean {
    const stop = this.stops.get(aicallId);
    stop?.();
    return Boolean(stop);
  }

  /** How many AI actions are running. */
  get size(): number {
    return this.stops.size;
  }

  /**
   * Resolves once no AI action runs any more (each unregisters as it unwinds), or after
   * `timeoutMs`, whichever comes first; never rejects.
   */
  async whenIdle(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.stops.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }
}
