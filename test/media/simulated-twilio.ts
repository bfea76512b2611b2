/**
 * A simulated Twilio bidirectional Media Stream for carrier tests: it plays what the server sends
 * in real time after a fixed playout buffer and handles `mark` and `clear` as Twilio documents
 * them, so a test can compare what the gateway counts as heard with what the carrier played.
 */
import { MULAW_DECODE_TABLE, encodeMulawSample } from '../../streams/audio/g711.js';
import { goertzel } from './helpers.js';
import type { RawSocket } from './helpers.js';

/** The simulated carrier's playout buffer: each frame plays this long after it arrived. */
export const BUFFER_MS = 300;

/** Which of the test tones a frame carries: 1 kHz (an answer), 2 kHz (a second response) or silence. */
export function kind(frame: Int16Array): '1k' | '2k' | 'silence' {

  const a1 = goertzel(frame, 1000);
  const a2 = goertzel(frame, 2000);
  if (a1 < 1000 && a2 < 1000) return 'silence';
  return a1 > a2 ? '1k' : '2k';
}

/**
 * Twilio as seen from the server: a bidirectional Media Stream that plays what it is sent in real
 * time, each frame `bufferMs` after it arrived (its playout buffer: a fixed delay), and handles marks and clear
 * as https://www.twilio.com/docs/voice/media-streams/websocket-messages describes.
 */
export class SimulatedTwilio {
  /** What is buffered, in the order sent: media frames and marks. */
  private queue: ({ media: Int16Array; at: number } | { mark: string })[] = [];
  /** Frames played, in order. */
  readonly played: Int16Array[] = [];
  /** Every mark the server sent, and every echo (with whether a clear caused it). */
  readonly marks: string[] = [];
  readonly echoes: { name: string; cleared: boolean }[] = [];
  /** Media frames received, in order; and how many had arrived when each clear came. */
  readonly received: Int16Array[] = [];
  readonly clearsAt: number[] = [];
  private seq = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    readonly raw: RawSocket,
    readonly streamSid: string,
    readonly bufferMs = BUFFER_MS,
  ) {
    raw.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.onMessage(JSON.parse(data.toString('utf8')));
    });
    this.timer = setInterval(() => this.play(), 5);
  }

  private onMessage(m: any): void {
    if (m.event === 'media') {
      const bytes = Buffer.from(m.media.payload, 'base64');
      const samples = new Int16Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) samples[i] = MULAW_DECODE_TABLE[bytes[i]!]!;
      this.received.push(samples);
      this.queue.push({ media: samples, at: performance.now() });
    } else if (m.event === 'mark') {
      this.marks.push(m.mark.name);
      this.queue.push({ mark: m.mark.name });
      this.echoDue();
    } else if (m.event === 'clear') {
      // Twilio: "empties the audio buffer and sends back mark messages matching any remaining marks".
      this.clearsAt.push(this.received.length);
      for (const item of this.queue) if ('mark' in item) this.echo(item.mark, true);
      this.queue = [];
    }
  }

  /** Plays every frame that has been buffered `bufferMs`, echoing marks as it passes them. */
  private play(): void {
    const now = performance.now();
    this.echoDue();
    for (;;) {
      const head = this.queue[0];
      if (!head || !('media' in head) || head.at + this.bufferMs > now) break;
      this.queue.shift();
      this.played.push(head.media);
      this.echoDue();
    }
  }

  /** Echoes the marks at the head of the buffer: everything sent before them has played. */
  private echoDue(): void {
    while (this.queue.length > 0 && 'mark' in this.queue[0]!) this.echo((this.queue.shift() as { mark: string }).mark, false);
  }

  private echo(name: string, cleared: boolean): void {
    this.echoes.push({ name, cleared });
    this.raw.sendJson({ event: 'mark', sequenceNumber: String(++this.seq), streamSid: this.streamSid, mark: { name } });
  }

  start(customParameters: Record<string, string>): void {
    this.raw.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.raw.sendJson({
      event: 'start',
      sequenceNumber: String(++this.seq),
      start: {
        accountSid: 'AC00000000000000000000000000000002',
        streamSid: this.streamSid,
        callSid: 'CA00000000000000000000000000000002',
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: this.streamSid,
    });
  }

  /** The caller speaks: one `media` message per 20 ms of `samples`. */
  say(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i += 160) {
      const mu = Buffer.alloc(160);
      for (let j = 0; j < 160; j++) mu[j] = encodeMulawSample(samples[i + j] ?? 0);
      this.raw.sendJson({ event: 'media', sequenceNumber: String(++this.seq), media: { track: 'inbound', payload: mu.toString('base64') }, streamSid: this.streamSid });
    }
  }

  /** Frames of `k` played so far. */
  playedOf(k: '1k' | '2k'): number {
    return this.played.filter((f) => kind(f) === k).length;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
