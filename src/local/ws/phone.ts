import type { WebSocket } from 'ws';
import type { Row } from '../../../db/store.js';
import type { LocalContext } from '../context.js';
import type { LocalCallEngine } from '../engine/engine.js';
import type { PhoneEndpoint } from '../engine/phone-registry.js';
import { addressKey } from '../engine/phone-registry.js';
import { normalizeE164 } from '../../../tools/e164.js';
import { int16AsL16Le, l16LeAsInt16 } from '../../../streams/audio/l16.js';
import { canSendAudio, closeWith } from './upgrade.js';
import type { UpgradeContext, WsRoute } from './upgrade.js';
import { MAX_PHONE_AUDIO_BYTES, PHONE_CLOSE, PHONE_PATH } from './phone-protocol.js';
import type { PhoneAddress, PhoneClientMessage, PhoneServerMessage } from './phone-protocol.js';

/** One connected softphone: the engine's {@link PhoneEndpoint} over a WebSocket. */
class PhoneConnection implements PhoneEndpoint {
  readonly customerId: string;
  addressKey = '';
  address: PhoneAddress | undefined;
  currentCallId: string | undefined;
  private readonly ws: WebSocket;
  private readonly engine: LocalCallEngine;
  private readonly ctx: LocalContext;
  private registered = false;
  /** Where an unaligned audio message is copied (an aligned one is read in place). */
  private readonly scratch = new Int16Array(MAX_PHONE_AUDIO_BYTES / 2);

  constructor(ws: WebSocket, customerId: string, engine: LocalCallEngine, ctx: LocalContext) {
    this.ws = ws;
    this.customerId = customerId;
    this.engine = engine;
    this.ctx = ctx;
    ws.on('message', (data, isBinary) =>
      this.onMessage(data as Buffer, isBinary).catch((err: unknown) => {
        this.ctx.logger.error('phone message failed', { error: String(err) });
        closeWith(ws, 1011, 'internal error');
      }),
    );
    ws.on('close', () => {
      if (this.registered) this.engine.phones.unregister(this);
      else if (this.currentCallId) {
        const live = this.engine.getLive(this.currentCallId);
        if (live) void this.engine.endCall(live, { by: 'remote', reason: live.answered ? 'normal' : 'cancel' });
      }
    });
  }

  private send(msg: PhoneServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  // ---- Party / PhoneEndpoint

  sendAudio(frame: Int16Array): void {
    if (!canSendAudio(this.ws)) return;
    // A copy per frame: the socket may queue the buffer by reference, and the mixer reuses its frame.
    this.ws.send(Buffer.from(int16AsL16Le(frame)), { binary: true });
  }

  async drop(reason: string): Promise<void> {
    const live = this.currentCallId ? this.engine.getLive(this.currentCallId) : undefined;
    // endCall marks the call ended and sends the phone its `hangup` at once (before its first
    // await), so the hangup precedes the close below on the same ordered socket.
    const ending = live ? this.engine.endCall(live, { by: 'local', reason: live.answered ? 'normal' : 'cancel' }) : undefined;
    // Off the registry before anything awaits, so no new call reaches the phone meanwhile.
    if (this.registered) {
      this.registered = false;
      this.engine.phones.unregister(this);
    }
    await ending;
    closeWith(this.ws, PHONE_CLOSE.policy, reason);
  }

  answered(callId: string): void {
    this.send({ type: 'answered', call_id: callId });
  }

  ended(callId: string, reason: string): void {
    this.send({ type: 'hangup', call_id: callId, reason });
  }

  ring(call: Row): void {
    const from = call.source as PhoneAddress;
    const to = call.destination as PhoneAddress;
    this.send({ type: 'incoming', call_id: call.id, from: { type: from.type, target: from.target }, to: { type: to.type, target: to.target } });
  }

  // ---- inbound messages

  private async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) {
      if (data.length % 2 !== 0 || data.length > MAX_PHONE_AUDIO_BYTES) {
        return closeWith(this.ws, PHONE_CLOSE.invalidData, `audio must be 16-bit samples (even byte count <= ${MAX_PHONE_AUDIO_BYTES}), got ${data.length} bytes`);
      }
      const live = this.currentCallId ? this.engine.getLive(this.currentCallId) : undefined;
      if (!live) return; // audio outside a call is dropped, as a real line drops it
      live.fromParty(l16LeAsInt16(data, this.scratch));
      return;
    }
    let msg: PhoneClientMessage;
    try {
      msg = JSON.parse(data.toString('utf8')) as PhoneClientMessage;
    } catch {
      return closeWith(this.ws, PHONE_CLOSE.invalidData, 'text messages must be JSON control messages');
    }
    try {
      await this.handle(msg);
    } catch (err) {
      this.ctx.logger.error('phone message failed', { error: String(err) });
      this.send({ type: 'error', message: 'internal error handling the message' });
    }
  }

  private async handle(msg: PhoneClientMessage): Promise<void> {
    switch (msg?.type) {
      case 'register':
        return this.register(msg.address);
      case 'dial': {
        if (!this.registered || !this.address) return this.send({ type: 'error', message: 'register before dialing' });
        if (this.currentCallId) return this.send({ type: 'error', message: 'already on a call; hang up first' });
        if (typeof msg.to !== 'string' || !msg.to) return this.send({ type: 'error', message: 'dial needs "to": a local number like +15551234567 or an extension' });
        const live = await this.engine.placeInbound(this, this.address, msg.to, this.customerId);
        if (this.ws.readyState !== this.ws.OPEN && !live.ended) return this.engine.endCall(live, { by: 'remote', reason: 'cancel' });
        if (!live.ended) this.send({ type: 'ringing', call_id: live.id });
        return;
      }
      case 'answer': {
        if (!this.currentCallId) return this.send({ type: 'error', message: 'no call is ringing' });
        return this.engine.partyAnswered(this.currentCallId);
      }
      case 'hangup': {
        const live = this.currentCallId ? this.engine.getLive(this.currentCallId) : undefined;
        if (!live) return this.send({ type: 'error', message: 'no call to hang up' });
        return this.engine.endCall(live, { by: 'remote', reason: live.answered ? 'normal' : 'cancel' });
      }
      case 'dtmf': {
        const live = this.currentCallId ? this.engine.getLive(this.currentCallId) : undefined;
        if (!live) return this.send({ type: 'error', message: 'no call for DTMF' });
        if (typeof msg.digits !== 'string' || !/^[0-9*#A-D]+$/.test(msg.digits)) {
          return this.send({ type: 'error', message: 'dtmf digits must be 0-9, *, #, A-D' });
        }
        for (const d of msg.digits) live.dtmfFromParty(d);
        return;
      }
      default:
        return closeWith(this.ws, PHONE_CLOSE.invalidData, `unknown message type ${JSON.stringify((msg as { type?: unknown })?.type ?? null)}`);
    }
  }

  private async register(address: PhoneAddress | undefined): Promise<void> {
    if (this.registered) return this.send({ type: 'error', message: 'already registered' });
    if (!address || (address.type !== 'tel' && address.type !== 'extension') || typeof address.target !== 'string' || !address.target) {
      return closeWith(this.ws, PHONE_CLOSE.invalidData, 'register needs address {type: "tel"|"extension", target}');
    }
    let target = address.target;
    if (address.type === 'tel') {
      const n = normalizeE164(address.target);
      if (!n) return closeWith(this.ws, PHONE_CLOSE.invalidData, `${address.target} is not an E.164 number like +15551234567`);
      const owned = (await this.ctx.store.numbers.findBy('number', n)).some((r) => r.customer_id === this.customerId);
      if (!owned) return closeWith(this.ws, PHONE_CLOSE.policy, `${n} is not a number of this account; create it with POST /v1.0/numbers`);
      target = n;
    }
    if (this.ws.readyState !== this.ws.OPEN) return; // closed (or dropped) while the number was checked
    this.address = { type: address.type, target };
    this.addressKey = addressKey(this.customerId, this.address)!;
    if (!this.engine.phones.register(this)) {
      return closeWith(this.ws, PHONE_CLOSE.policy, `another phone is already registered as ${target}`);
    }
    this.registered = true;
    if (address.type === 'tel') {
      // The number may have been deleted while it was checked above; its deletion found no
      // phone to drop then, so this phone drops itself rather than stay on a number it lost.
      const still = (await this.ctx.store.numbers.findBy('number', target)).some((r) => r.customer_id === this.customerId);
      if (!still) return this.drop(`number ${target} was deleted; register again on a number of this account`);
    }
    this.send({ type: 'registered', address: this.address });
  }
}

/** The `/local/phone` WebSocket route. */
export function phoneRoute(ctx: LocalContext, engine: LocalCallEngine): WsRoute {
  return {
    path: PHONE_PATH,
    auth: true,
    onConnection(ws: WebSocket, u: UpgradeContext) {
      const phone = new PhoneConnection(ws, u.customerId, engine, ctx);
      // A deleted or expired access key takes its phones off the line: the call ends, then 1008.
      u.onKeyRevoked = (_cause, reason) => phone.drop(reason);
    },
  };
}
