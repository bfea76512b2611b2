import type { WebSocket } from 'ws';
import type { LocalContext } from '../context.js';
import type { LocalCallEngine } from '../engine/engine.js';
import type { LiveCall, Party } from '../engine/live-call.js';
import { authenticateKey } from '../customers.js';
import { revocationMessage } from '../key-sessions.js';
import { carrierProtocol, CARRIER_PROTOCOLS } from '../../../streams/protocols/index.js';
import type { CarrierProtocol, CarrierStartEvent } from '../../../streams/protocols/index.js';
import { MediaProtocolError } from '../../../streams/protocols/errors.js';
import { notFound } from '../../api/errors.js';
import { canSendAudio, closeWith } from './upgrade.js';
import type { UpgradeContext, WsRoute } from './upgrade.js';

/** Path of the carrier ingress; `:carrier` is a registered protocol name (`twilio`). */
export const CARRIER_PATH = '/carrier/:carrier';

/**
 * One carrier media stream (e.g. Twilio `<Connect><Stream>`) as an inbound call leg: it is
 * routed like a call to the local number named in `customParameters.to` (or the configured
 * default), so flows and agents reach carrier callers with no extra code.
 */
class CarrierLeg implements Party {
  currentCallId: string | undefined;
  private streamSid = '';
  private live: LiveCall | undefined;
  private starting = false;
  /** Closes a socket that sends no valid `start` in time (it is unauthenticated until then). */
  private startTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set when the stream's access key was deleted or expired: the close then says so (1008). */
  private revokedReason: string | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly protocol: CarrierProtocol,
    private readonly ctx: LocalContext,
    private readonly engine: LocalCallEngine,
    private readonly defaultNumber: string | undefined,
    startTimeoutMs: number = carrierStartTimeoutMs(),
  ) {
    this.startTimer = setTimeout(() => {
      this.startTimer = undefined;
      if (!this.live && !this.starting) closeWith(ws, 1008, `no valid start event within ${startTimeoutMs} ms; send start with customParameters.token first`);
    }, startTimeoutMs);
    ws.on('message', (data, isBinary) =>
      this.onMessage(data as Buffer, isBinary).catch((err: unknown) => {
        this.ctx.logger.error('carrier message failed', { error: String(err) });
        closeWith(ws, 1011, 'internal error');
      }),
    );
    ws.on('close', () => {
      if (this.startTimer) clearTimeout(this.startTimer);
      this.startTimer = undefined;
      if (this.live && !this.live.ended) void this.engine.endCall(this.live, { by: 'remote', reason: 'normal' });
    });
  }

  sendAudio(frame: Int16Array): void {
    if (this.streamSid && canSendAudio(this.ws)) this.ws.send(this.protocol.encodeMedia(this.streamSid, frame));
  }

  /** A mark after the media sent so far; the carrier echoes it once that media played (or a clear dropped it). */
  sendMark(name: string): void {
    if (this.streamSid && this.ws.readyState === this.ws.OPEN) this.ws.send(this.protocol.encodeMark(this.streamSid, name));
  }

  clearAudio(): void {
    if (this.streamSid && this.ws.readyState === this.ws.OPEN) this.ws.send(this.protocol.encodeClear(this.streamSid));
  }

  ended(_callId: string, reason: string): void {
    if (this.revokedReason) return closeWith(this.ws, 1008, this.revokedReason);
    // 1001 (going away) tells the carrier the server stopped, not that the call was hung up.
    if (this.engine.shuttingDown) closeWith(this.ws, 1001, 'server shutting down');
    else closeWith(this.ws, 1000, `call ended: ${reason}`);
  }

  private async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) return closeWith(this.ws, 1003, `${this.protocol.name} streams carry JSON text messages, not binary`);
    let ev;
    try {
      ev = this.protocol.parse(data.toString('utf8'));
    } catch (err) {
      if (err instanceof MediaProtocolError) return closeWith(this.ws, err.closeCode, err.message);
      return closeWith(this.ws, 1007, 'unparseable message');
    }
    switch (ev.type) {
      case 'connected':
        return;
      case 'mark':
        // The echo of a sendMark: the call's playout learns what the caller heard.
        this.live?.markFromParty(ev.name);
        return;
      case 'start':
        return this.start(ev);
      case 'media':
        if (!this.live) {
          if (!this.starting) closeWith(this.ws, 1008, 'media before start');
          return;
        }
        this.live.fromParty(ev.samples);
        return;
      case 'dtmf':
        this.live?.dtmfFromParty(ev.digit);
        return;
      case 'stop':
        if (this.live) await this.engine.endCall(this.live, { by: 'remote', reason: 'normal' });
        closeWith(this.ws, 1000, 'stream stopped');
        return;
    }
  }

  private async start(ev: CarrierStartEvent): Promise<void> {
    if (this.live || this.starting) return closeWith(this.ws, 1008, 'duplicate start');
    this.starting = true;
    const token = this.protocol.authTokenFrom(ev);
    const key = token ? await authenticateKey(this.ctx.store, token) : undefined;
    if (!key) {
      return closeWith(this.ws, 1008, 'missing or invalid access key: pass it as customParameters.token');
    }
    const customerId = key.customerId;
    // Like a phone: deleting (or the expiry of) the key that started the stream ends its call,
    // then closes the stream with 1008 and the reason.
    const unbind = this.ctx.keySessions.bind(key, async (cause) => {
      this.revokedReason = revocationMessage(cause);
      if (this.live && !this.live.ended) await this.engine.endCall(this.live, { by: 'local', reason: 'normal' });
      closeWith(this.ws, 1008, this.revokedReason);
    });
    this.ws.once('close', unbind);
    const to = ev.customParameters.to ?? this.defaultNumber;
    if (!to) return closeWith(this.ws, 1008, 'no destination: pass customParameters.to (a local number) or set CARRIER_DEFAULT_NUMBER');
    // A valid start: the socket is authenticated, the start timeout no longer applies.
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = undefined;
    this.streamSid = ev.streamSid;
    const from = ev.customParameters.from ?? `${this.protocol.name}:${ev.callSid}`;
    this.live = await this.engine.placeInbound(this, { type: from.startsWith('+') ? 'tel' : 'sip', target: from }, to, customerId);
    this.starting = false;
    if (this.ws.readyState !== this.ws.OPEN && !this.live.ended) return this.engine.endCall(this.live, { by: 'remote', reason: 'cancel' });
    // The carrier has already answered its caller; a call that could not be routed ends here.
    if (this.live.ended) closeWith(this.ws, 1000, `call ended: ${this.live.row.hangup_reason as string}`);
  }
}

/** How long an unauthenticated carrier socket may stay open without a valid `start` (default). */
export const CARRIER_START_TIMEOUT_MS = 10_000;

/** The start timeout: `CARRIER_START_TIMEOUT_MS` from the environment (tests shorten it), else 10 s. */
export function carrierStartTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const v = Number(env.CARRIER_START_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : CARRIER_START_TIMEOUT_MS;
}

/** The carrier ingress WebSocket route (`/carrier/twilio`). */
export function carrierRoute(ctx: LocalContext, engine: LocalCallEngine, defaultNumber?: string, opts: { startTimeoutMs?: number } = {}): WsRoute {
  return {
    path: CARRIER_PATH,
    // Carriers drop query strings and custom headers: the key arrives in the start event.
    auth: false,
    accept(u: UpgradeContext) {
      if (!carrierProtocol(u.params.carrier ?? '')) {
        throw notFound('ROUTE_NOT_FOUND', `unknown carrier ${u.params.carrier}; supported: ${Object.keys(CARRIER_PROTOCOLS).join(', ')}`);
      }
    },
    onConnection(ws: WebSocket, u: UpgradeContext) {
      new CarrierLeg(ws, carrierProtocol(u.params.carrier!)!, ctx, engine, defaultNumber, opts.startTimeoutMs ?? carrierStartTimeoutMs());
    },
  };
}
