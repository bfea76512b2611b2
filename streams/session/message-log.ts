import type { VoipbinClient } from '../../src/client/client.js';
import type { AIManagerMessageRole } from '../../src/client/types.js';
import type { Logger } from '../../src/util/logger.js';

/**
 * The AI call's transcript, stored as AI call messages through the one REST client
 * (`POST /aimessages`), the path the tool executor stores tool calls and results on, so a session
 * works the same against the local VoIPBIN and api.voipbin.net.
 *
 * Writes are queued in order and best effort: a failed write is logged, never thrown into the
 * conversation. {@link flush} waits for what is queued (before a tool call, so the stored order
 * is the spoken order; and before the end of the AI call is stored).
 */
export class MessageLog {
  private tail: Promise<void> = Promise.resolve();
  /** Messages whose write failed. */
  failed = 0;

  constructor(
    private readonly client: VoipbinClient,
    private readonly aicallId: string,
    private readonly logger?: Logger,
  ) {}

  /** Queues one message. */
  add(role: AIManagerMessageRole, content: string): void {
    this.tail = this.tail.then(async () => {
      try {
        await this.client.aimessages.create({ aicall_id: this.aicallId, role, content });
      } catch (err) {
        this.failed++;
        this.logger?.warn('storing an AI call message failed', { aicall_id: this.aicallId, role, error: String(err) });
      }
    });
  }

  /** Resolves once every message queued so far was written (or failed). Never rejects. */
  flush(): Promise<void> {
    return this.tail;
  }
}
