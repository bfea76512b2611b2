/**
 * The external agent: an {@link AgentSession} (interface v2) on a `ws` client that dials the
 * agent's URL (`parameter.agent_url` of an AI whose `engine_model` is `external.<name>`), the way a
 * carrier media stream dials an application. The factory connects, sends `start` and waits for
 * `accept` (the negotiated audio formats are the session's `input` / `output`); `start()` sends
 * `begin`. Order rules, marks, barge-in and the end of the session live here; the wire format in
 * protocol.ts; the spec in docs/external-agent-protocol.md.
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';
import type { Logger } from '../../../src/util/logger.js';
import { registerSecret } from '../../../src/util/logger.js';
import { agentUrlProblem } from '../../../src/catalog/ai.js';
import type {
  AgentAudio,
  AgentAudioFormat,
  AgentConfig,
  AgentFactory,
  AgentHost,
  AgentSession,
  AgentStartOptions,
  ClearReport,
} from '../agent.js';
import { audioMs } from '../agent.js';
import {
  CLOSE,
  DEFAULT_OFFER,
  ProtocolError,
  audioFormat,
  beginMessage,
  clearedMessage,
  closeReason,
  dtmfMessage,
  hangupMessage,
  markMessage,
  parseAgentMessage,
  startMessage,
  stopMessage,
  toolResultMessage,
} from './protocol.js';
import type { AgentMessage, AudioFormatName } from './protocol.js';

/** The `engine_model` prefix that selects this agent. */
export const EXTERNAL_ENGINE_PREFIX = 'external.';

/** Registry matcher: an AI whose `engine_model` is `external.<name>`. */
export function isExternalAgentConfig(config: AgentConfig): boolean {
  return config.engine_model.startsWith(EXTERNAL_ENGINE_PREFIX);
}

export interface ExternalAgentOptions {
  /** How long the agent has to open the socket and answer `start` with `accept` (default 5000 ms). */
  acceptTimeoutMs?: number;
  /** The formats offered in `start` (default {@link DEFAULT_OFFER}). */
  offered?: readonly AudioFormatName[];
  /** How long `stop` waits for tool results still running, so they reach the agent (default 2000 ms). */
  stopGraceMs?: number;
  /** Largest message accepted from the agent (default 1 MiB; more closes 1009). */
  maxPayloadBytes?: number;
  /** Caller audio queued on the socket beyond this is dropped, not buffered (default 64 KiB). */
  maxBufferedBytes?: number;
  logger?: Logger;
  /** Sees every text message, both ways, as it crosses the socket (debugging, protocol tests). */
  onText?: (direction: 'to_agent' | 'from_agent', text: string) => void;
  /** Extra `ws` client options (a TLS `ca` for wss:// in tests, an agent, ...). */
  wsOptions?: WebSocket.ClientOptions;
}

/** The URL as it may appear in logs and reasons: no query, no user info. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** A factory of external-agent sessions, for the {@link AgentRegistry}. */
export function externalAgent(opts: ExternalAgentOptions = {}): AgentFactory {
  return (options, host) => connectExternalAgent(options, host, opts);
}

/**
 * Connects to the agent, sends `start`, waits for `accept`. On failure it ends the host's session
 * with the reason (`host.end`) and rejects with it.
 */
export async function connectExternalAgent(options: AgentStartOptions, host: AgentHost, opts: ExternalAgentOptions = {}): Promise<AgentSession> {
  const { config } = options;
  const fail = (why: string): never => {
    const reason = `external agent: ${why}`;
    host.end(reason);
    throw new Error(reason);
  };
  const problem = agentUrlProblem(config.parameter.agent_url);
  if (problem) fail(`parameter.agent_url: ${problem}`);
  const url = config.parameter.agent_url as string;
  registerSecret(config.engine_key);
  const timeoutMs = opts.acceptTimeoutMs ?? 5000;
  const headers: Record<string, string> = { 'X-VoIPBIN-Agent-Protocol': '1' };
  if (config.engine_key) headers.Authorization = `Bearer ${config.engine_key}`;
  const ws = new WebSocket(url, {
    ...opts.wsOptions,
    headers: { ...opts.wsOptions?.headers, ...headers },
    perMessageDeflate: false,
    maxPayload: opts.maxPayloadBytes ?? 1024 * 1024,
    handshakeTimeout: timeoutMs,
  });
  const session = new ExternalAgentSession(ws, host, options, opts, safeUrl(url));
  try {
    await session.negotiate(timeoutMs);
  } catch (err) {
    session.abort();
    fail(err instanceof Error ? err.message : String(err));
  }
  return session;
}

type State = 'negotiating' | 'accepted' | 'running' | 'closed';

interface PendingMark {
  name: string;
  responseId: string;
  /** Position in the response (ms of its audio sent before the mark). */
  atMs: number;
  /** When to count it played if the host cannot say (a wall-clock estimate of its playout, plus slack). */
  deadline: number;
}

/** Slack added to the estimated playout time of a mark before it counts as played anyway. */
const MARK_SLACK_MS = 1500;

export class ExternalAgentSession implements AgentSession {
  input: AgentAudioFormat = { encoding: 'pcm16', sampleRateHz: 16000 };
  output: AgentAudioFormat = { encoding: 'pcm16', sampleRateHz: 16000 };
  private state: State = 'negotiating';
  private accepted: ((m: Extract<AgentMessage, { type: 'accept' }>) => void) | undefined;
  private rejectNegotiation: ((e: Error) => void) | undefined;
  /** The response the agent's binary audio belongs to. */
  private current: string | undefined;
  /** Whether the last response was cleared (late audio of it is dropped, not an error). */
  private lastCleared = false;
  private readonly sentMs = new Map<string, number>();
  private marks: PendingMark[] = [];
  private markTimer: ReturnType<typeof setInterval> | undefined;
  /** Wall-clock estimate of when the queued agent audio ends playing (performance.now ms). */
  private playoutEndAt = 0;
  private readonly pendingTools = new Set<Promise<void>>();
  private scratch = new Int16Array(0);
  private stopping: Promise<void> | undefined;
  private ended = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly host: AgentHost,
    private readonly options: AgentStartOptions,
    private readonly opts: ExternalAgentOptions,
    private readonly url: string,
  ) {}

  /** Opens the socket, sends `start`, resolves on a valid `accept`. */
  negotiate(timeoutMs: number): Promise<void> {
    const { ws, options } = this;
    const offered = this.opts.offered ?? DEFAULT_OFFER;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (ws.readyState === WebSocket.OPEN) this.closeSocket(CLOSE.policy, `no accept within ${timeoutMs} ms`);
        reject(new Error(`${this.url}: no accept within ${timeoutMs} ms of start`));
      }, timeoutMs);
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.accepted = undefined;
        this.rejectNegotiation = undefined;
        if (err) reject(err);
        else resolve();
      };
      this.rejectNegotiation = (e) => done(e);
      this.accepted = (m) => {
        if (!offered.includes(m.audio.input)) return this.protocolError(new ProtocolError(CLOSE.invalid, `accept.audio.input: ${m.audio.input} was not offered; use one of ${offered.join(', ')}`));
        if (!offered.includes(m.audio.output)) return this.protocolError(new ProtocolError(CLOSE.invalid, `accept.audio.output: ${m.audio.output} was not offered; use one of ${offered.join(', ')}`));
        this.input = audioFormat(m.audio.input);
        this.output = audioFormat(m.audio.output);
        this.state = 'accepted';
        this.opts.logger?.info('external agent accepted', { url: this.url, aicall_id: options.aicall.id, input: m.audio.input, output: m.audio.output });
        done();
      };
      ws.on('unexpected-response', (_req, res) => {
        done(new Error(`${this.url} refused the connection: HTTP ${res.statusCode}`));
        res.resume();
        ws.terminate();
      });
      ws.on('error', (err) => {
        if (this.rejectNegotiation) done(new Error(`cannot reach ${this.url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
        else this.opts.logger?.warn('external agent socket error', { url: this.url, aicall_id: options.aicall.id, error: err.message });
      });
      ws.on('open', () => {
        const c = options.config;
        this.send(
          startMessage({
            aicall: options.aicall,
            ai_id: c.ai_id,
            variables: options.variables,
            config: {
              engine_model: c.engine_model,
              init_prompt: c.init_prompt,
              language: c.language,
              tts_type: c.tts_type,
              tts_voice_id: c.tts_voice_id,
              stt_type: c.stt_type,
              stt_language: c.stt_language,
              vad_config: c.vad_config,
              parameter: c.parameter,
            },
            tools: options.tools,
            offered,
          }),
        );
      });
      ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
      ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    });
  }

  /** Ends a failed negotiation's socket. */
  abort(): void {
    this.state = 'closed';
    this.ended = true;
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) this.closeSocket(CLOSE.policy, 'negotiation failed');
  }

  async start(): Promise<void> {
    if (this.state !== 'accepted') return;
    this.state = 'running';
    this.send(beginMessage());
  }

  audioIn(audio: AgentAudio): void {
    if (this.state !== 'running' || this.ws.readyState !== WebSocket.OPEN) return;
    // A stalled agent must not grow memory without bound: caller audio is real time, drop it.
    if (this.ws.bufferedAmount > (this.opts.maxBufferedBytes ?? 64 * 1024)) return;
    // A view, not a copy: the client masks every frame into a new buffer before send returns.
    this.ws.send(Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength), { binary: true });
  }

  dtmf(digit: string): void {
    if (this.state === 'running') this.send(dtmfMessage(digit));
  }

  interrupt(): void {
    if (this.state !== 'running') return;
    const responseId = this.current;
    const report = this.clearPlayout();
    this.send(clearedMessage('barge_in', report));
    this.host.event({ type: 'barge_in', ...(responseId ? { responseId } : {}), heardMs: this.heard(report, responseId) });
  }

  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.ended = true;
    this.stopMarks();
    // Tool results still running go out before the end (stop_service's own result, for one).
    if (this.pendingTools.size > 0) {
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.allSettled([...this.pendingTools]), new Promise((r) => (t = setTimeout(r, this.opts.stopGraceMs ?? 2000)))]);
      clearTimeout(t);
    }
    this.state = 'closed';
    if (this.ws.readyState === WebSocket.OPEN) {
      this.send(reason === 'hangup' ? hangupMessage() : stopMessage(reason));
      this.closeSocket(CLOSE.normal, reason === 'hangup' ? 'hangup' : 'stop');
      await new Promise<void>((res) => {
        const t = setTimeout(() => {
          this.ws.terminate();
          res();
        }, 1000);
        this.ws.once('close', () => {
          clearTimeout(t);
          res();
        });
      });
    } else if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }

  // -------------------------------------------------------------------------------------------

  private send(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.opts.onText?.('to_agent', text);
    this.ws.send(text);
  }

  private closeSocket(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, closeReason(reason));
  }

  private onClose(code: number, reason: string): void {
    const wasOpen = this.state !== 'closed';
    const negotiating = this.state === 'negotiating';
    this.state = 'closed';
    this.stopMarks();
    if (this.rejectNegotiation) this.rejectNegotiation(new Error(`${this.url} closed the connection before accept (${code}${reason ? ` ${reason}` : ''})`));
    // A failed negotiation is reported once, by the factory.
    if (negotiating) return;
    if (wasOpen && !this.ended) {
      this.ended = true;
      this.host.end(`the external agent closed the connection (${code}${reason ? `: ${reason}` : ''})`);
    }
  }

  /** Closes the socket with the error's code and reason and ends the session. */
  private protocolError(err: ProtocolError): void {
    this.opts.logger?.warn('external agent broke the protocol', { url: this.url, aicall_id: this.options.aicall.id, code: err.code, reason: err.reason });
    const negotiating = this.rejectNegotiation;
    this.state = 'closed';
    this.stopMarks();
    this.closeSocket(err.code, err.reason);
    if (negotiating) negotiating(new Error(`protocol error (${err.code}): ${err.reason}`));
    else if (!this.ended) {
      this.ended = true;
      this.host.end(`external agent protocol error (${err.code}): ${err.reason}`);
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    try {
      if (isBinary) this.onAudio(data as Buffer);
      else {
        const text = data.toString();
        this.opts.onText?.('from_agent', text);
        this.onText(parseAgentMessage(text));
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.protocolError(err);
      else throw err;
    }
  }

  private onText(m: AgentMessage): void {
    if (this.state === 'negotiating') {
      if (m.type === 'accept') return this.accepted?.(m);
      if (m.type === 'end') {
        const reject = this.rejectNegotiation;
        this.state = 'closed';
        this.closeSocket(CLOSE.normal, 'end');
        reject?.(new Error(`the agent declined the call: ${m.reason}`));
        return;
      }
      throw new ProtocolError(CLOSE.policy, `${m.type} before accept: answer start with accept first`);
    }
    switch (m.type) {
      case 'accept':
        throw new ProtocolError(CLOSE.policy, 'accept: sent twice');
      case 'response_start':
        if (this.state !== 'running') throw new ProtocolError(CLOSE.policy, 'response_start before begin: wait for begin');
        if (this.current !== undefined) this.host.event({ type: 'response_done', responseId: this.current, status: 'completed' });
        this.current = m.response_id;
        this.lastCleared = false;
        if (!this.sentMs.has(m.response_id)) this.sentMs.set(m.response_id, 0);
        this.host.event({ type: 'response_started', responseId: m.response_id });
        return;
      case 'response_end':
        if (m.response_id === this.current) {
          this.current = undefined;
          this.host.event({ type: 'response_done', responseId: m.response_id, status: m.status });
        }
        return; // the end of a cleared response: already over
      case 'clear': {
        const responseId = this.current;
        const report = this.clearPlayout();
        this.send(clearedMessage('clear', report));
        this.host.event({ type: 'barge_in', ...(responseId ? { responseId } : {}), heardMs: this.heard(report, responseId) });
        return;
      }
      case 'mark':
        return this.addMark(m.name);
      case 'transcript':
        this.host.transcript(m.role, m.text, { final: m.final, ...(m.response_id !== undefined ? { responseId: m.response_id } : {}) });
        return;
      case 'tool_call': {
        const p = this.host
          .toolCall({ id: m.id, name: m.name, arguments: m.arguments })
          .then((r) => this.send(toolResultMessage(r.result, r.runLlm)))
          .catch((err) => this.opts.logger?.error('external agent tool call failed', { aicall_id: this.options.aicall.id, tool: m.name, error: String(err) }))
          .finally(() => this.pendingTools.delete(p));
        this.pendingTools.add(p);
        return;
      }
      case 'event':
        if (m.event === 'error') this.host.event({ type: 'error', message: m.message, ...(m.code !== undefined ? { code: m.code } : {}) });
        else if (m.event === 'metric') this.host.event({ type: 'metric', name: m.name, value: m.value });
        else this.host.event({ type: m.event });
        return;
      case 'end':
        if (!this.ended) {
          this.ended = true;
          this.host.end(m.reason);
        }
        return;
    }
  }

  private onAudio(buf: Buffer): void {
    if (this.state !== 'running') throw new ProtocolError(CLOSE.policy, 'binary audio before begin: wait for begin, then send response_start');
    const id = this.current;
    if (id === undefined) {
      if (this.lastCleared) return; // late audio of a cleared response
      throw new ProtocolError(CLOSE.policy, 'binary audio outside a response: send response_start first');
    }
    let audio: AgentAudio;
    if (this.output.encoding === 'pcm16') {
      if (buf.length % 2 !== 0) throw new ProtocolError(CLOSE.invalid, `binary audio: ${buf.length} bytes is not whole pcm16 samples (2 bytes each)`);
      const n = buf.length / 2;
      if (buf.byteOffset % 2 === 0) audio = new Int16Array(buf.buffer, buf.byteOffset, n);
      else {
        if (this.scratch.length < n) this.scratch = new Int16Array(Math.max(n, 2 * this.scratch.length));
        const view = this.scratch.subarray(0, n);
        new Uint8Array(view.buffer, view.byteOffset, buf.length).set(buf);
        audio = view;
      }
    } else {
      audio = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    }
    if (audio.length === 0) return;
    const ms = audioMs(audio, this.output);
    this.sentMs.set(id, (this.sentMs.get(id) ?? 0) + ms);
    this.playoutEndAt = Math.max(performance.now(), this.playoutEndAt) + ms;
    this.host.audioOut(audio, id);
  }

  /** Clears the host's playout, ends the current response as cancelled, settles the marks. */
  private clearPlayout(): ClearReport {
    const report = this.host.clearAudio();
    if (this.current !== undefined) {
      this.host.event({ type: 'response_done', responseId: this.current, status: 'cancelled' });
      this.current = undefined;
      this.lastCleared = true;
    }
    this.playoutEndAt = 0;
    const played = new Map(report.responses.map((r) => [r.responseId, r.playedMs]));
    for (const mk of this.marks) {
      const p = played.get(mk.responseId);
      // A response not in the report had no audio left queued: everything before its marks played.
      this.send(markMessage(mk.name, p === undefined || p + 1 >= mk.atMs));
    }
    this.marks = [];
    this.stopMarks();
    return report;
  }

  private heard(report: ClearReport, responseId: string | undefined): number {
    if (responseId === undefined) return 0;
    const r = report.responses.find((x) => x.responseId === responseId);
    return Math.round(r ? r.playedMs : this.host.playedMs(responseId));
  }

  private addMark(name: string): void {
    const id = this.current;
    const now = performance.now();
    if (id === undefined || this.playoutEndAt <= now) {
      this.send(markMessage(name, true));
      return;
    }
    this.marks.push({ name, responseId: id, atMs: this.sentMs.get(id) ?? 0, deadline: this.playoutEndAt + MARK_SLACK_MS });
    this.markTimer ??= setInterval(() => this.checkMarks(), 20);
  }

  private checkMarks(): void {
    const now = performance.now();
    while (this.marks.length > 0) {
      const mk = this.marks[0];
      if (this.host.playedMs(mk.responseId) + 1 < mk.atMs && now < mk.deadline) break;
      this.marks.shift();
      this.send(markMessage(mk.name, true));
    }
    if (this.marks.length === 0) this.stopMarks();
  }

  private stopMarks(): void {
    if (this.markTimer) clearInterval(this.markTimer);
    this.markTimer = undefined;
  }
}
