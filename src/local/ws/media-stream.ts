import type { WebSocket } from 'ws';
import { ApiError, conflict, invalidArgument, notFound } from '../../api/errors.js';
import type { LocalContext } from '../context.js';
import type { LocalCallEngine } from '../engine/engine.js';
import { isUuid } from '../../util/ids.js';
import { ENCAPSULATIONS, createEncapsulationCodec, isEncapsulation } from '../../../streams/protocols/encapsulation.js';
import { MediaProtocolError } from '../../../streams/protocols/errors.js';
import { canSendAudio, closeWith } from './upgrade.js';
import type { UpgradeContext, WsRoute } from './upgrade.js';

/**
 * `GET /v1.0/calls/{id}/media_stream?encapsulation=sln|rtp|audiosocket`, as VoIPBIN serves it:
 * a bi-directional WebSocket of binary 20 ms frames (8 kHz slin16 LE). The client hears the
 * call's party; audio it sends is played into the call. The call must be answered; the socket
 * closes (1000) when the call ends.
 *
 * The stream is continuous and real time: from the tick after the socket opens, one frame every
 * 20 ms (50/s), silence included, paced by the call's clock however the party sends (a burst
 * from the phone is played out over its real duration, see LiveCall).
 */
export function mediaStreamRoute(ctx: LocalContext, engine: LocalCallEngine): WsRoute {
  return {
    path: '/v1.0/calls/:id/media_stream',
    auth: true,
    async accept(u: UpgradeContext) {
      const id = u.params.id ?? '';
      if (!isUuid(id)) throw new ApiError(400, 'INVALID_ID', 'id must be a UUID');
      const enc = u.url.searchParams.get('encapsulation') ?? 'rtp';
      if (!isEncapsulation(enc)) throw invalidArgument(`encapsulation must be one of ${ENCAPSULATIONS.join(', ')}`);
      const call = await ctx.store.calls.get(u.customerId, id.toLowerCase());
      if (!call) throw notFound('CALL_NOT_FOUND', `call ${id} not found`);
      const live = engine.getLive(call.id);
      if (!live || live.ended || call.status === 'hangup') throw conflict('CALL_ALREADY_HANGUP', `call ${call.id} has ended`);
      if (!live.answered) {
        throw conflict('CALL_STATE_INVALID', `call ${call.id} is ${call.status as string}; a media stream needs an answered (progressing) call`);
      }
    },
    onConnection(ws: WebSocket, u: UpgradeContext) {
      const live = engine.getLive((u.params.id ?? '').toLowerCase());
      if (!live || live.ended) return closeWith(ws, 1000, 'call ended');
      const codec = createEncapsulationCodec((u.url.searchParams.get('encapsulation') ?? 'rtp') as 'rtp');
      const source = live.addSource(`media_stream:${codec.name}`);
      // The call's clock hands this tap one frame per 20 ms from the next tick on (silence while
      // the party says nothing), so the client gets VoIPBIN's continuous 50 frames/s stream.
      const untap = live.tap((frame) => {
        // Encoded even when the socket is backed up and the frame is dropped: the rtp sequence
        // number and timestamp then still advance with real time, so the receiver sees a loss
        // (a sequence gap) instead of audio silently squeezed together.
        const packet = codec.encodeAudio(frame);
        // The server must copy: a queued unmasked frame keeps a reference to the codec's buffer.
        if (canSendAudio(ws)) ws.send(Buffer.from(packet), { binary: true });
      });
      const offEnd = live.onEnd(() => {
        const hangup = codec.encodeHangup();
        if (hangup && ws.readyState === ws.OPEN) ws.send(Buffer.from(hangup), { binary: true });
        // 1001 (going away) tells the client the server stopped, not that the call was hung up.
        if (engine.shuttingDown) closeWith(ws, 1001, 'server shutting down');
        else closeWith(ws, 1000, 'call ended');
      });
      ws.on('message', (data, isBinary) => {
        if (!isBinary) return closeWith(ws, 1003, 'media_stream carries binary audio frames, not text');
        try {
          for (const ev of codec.decode(data as Buffer)) {
            if (ev.kind === 'audio') source.push(ev.samples);
            else if (ev.kind === 'dtmf') live.dtmfFromParty(ev.digit);
            else if (ev.kind === 'hangup') closeWith(ws, 1000, 'hangup received');
          }
        } catch (err) {
          if (err instanceof MediaProtocolError) return closeWith(ws, err.closeCode, err.message);
          ctx.logger.error('media_stream decode failed', { call_id: live.id, error: String(err) });
          closeWith(ws, 1011, 'internal error');
        }
      });
      ws.on('close', () => {
        untap();
        offEnd();
        live.removeSource(source);
      });
    },
  };
}
