import type { WebSocket } from 'ws';
import type { LocalContext } from '../context.js';
import type { LocalCallEngine } from '../engine/engine.js';
import type { LiveCall, Party } from '../engine/live-call.js';
import { authenticate } from '../customers.js';
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

  constructor(
    private readonly ws: WebSocket,
    private readonly protocol: CarrierProtocol,
    private readonly ctx: LocalContext,
    private readonly engine: LocalCallEngine,
    private readonly defaultNumber: string | undefined,
  ) {
    ws.on('message', (data, isBinary) =>
      this.onMessage(data as Buffer, isBinary).catch((err: unknown) => {
        this.ctx.logger.error('carrier message failed', { error: String(err) });
        closeWith(ws, 1011, 'internal error');
      }),
    );
    ws.on('close', () => {
      if (this.live && !this.live.ended) void this.engine.endCall(this.live, { by: 'remote', reason: 'normal' });
    });
  }

  sendAudio(frame: Int16Array): void {
    if (this.streamSid && canSendAudio(this.ws)) this.ws.send(this.protocol.encodeMedia(this.streamSid, frame));
  }

  clearAudio(): void {
    if (this.streamSid && this.ws.readyState === this.ws.OPEN) this.ws.send(this.protocol.encodeClear(this.streamSid));
  }

  ended(_callId: string, reason: string): void {
    closeWith(this.ws, 1000, `call ended: ${reason}`);
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
      case 'mark':
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
    const customerId = token ? await authenticate(this.ctx.store, token) : undefined;
    if (!customerId) {
      return closeWith(this.ws, 1008, 'missing or invalid access key: pass it as customParameters.token');
    }
    const to = ev.customParameters.to ?? this.defaultNumber;
    if (!to) return closeWith(this.ws, 1008, 'no destination: pass customParameters.to (a local number) or set CARRIER_DEFAULT_NUMBER');
    this.streamSid = ev.streamSid;
    const from = ev.customParameters.from ?? `${this.protocol.name}:${ev.callSid}`;
    this.live = await this.engine.placeInbound(this, { type: from.startsWith('+') ? 'tel' : 'sip', target: from }, to, customerId);
    this.starting = false;
    if (this.ws.readyState !== this.ws.OPEN && !this.live.ended) return this.engine.endCall(this.live, { by: 'remote', reason: 'cancel' });
    // The carrier has already answered its caller; a call that could not be routed ends here.
    if (this.live.ended) closeWith(this.ws, 1000, `call ended: ${this.live.row.hangup_reason as string}`);
  }
}

/** The carrier ingress WebSocket route (`/carrier/twilio`). */
export function carrierRoute(ctx: LocalContext, engine: LocalCallEngine, defaultNumber?: string): WsRoute {
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
      new CarrierLeg(ws, carrierProtocol(u.params.carrier!)!, ctx, engine, defaultNumber);
    },
  };
}
