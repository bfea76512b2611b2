import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { idParam, mustDelete, mustGet, parseBody, queryOf, uuidString } from './common.js';
import { ApiError, conflict, invalidArgument } from '../../api/errors.js';
import { isUuid } from '../../util/ids.js';
import { NO_STT_REASON } from '../engine/transcribe.js';

const TranscribeCreate = z.object({
  reference_type: z.literal('call', { message: 'must be "call" (the local VoIPBIN transcribes live calls)' }),
  reference_id: uuidString('reference_id'),
  language: z.string({ message: 'must be a language code like en-US' }).optional(),
  direction: z.enum(['in', 'out', 'both'], { message: 'must be in, out or both' }).optional(),
});

/** `/transcribes` and `/transcripts`: transcriptions of live calls and what they heard. */
export function registerTranscribeRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  api.post('/transcribes', async (req) => {
    const body = parseBody(TranscribeCreate, req.body);
    const call = await mustGet(store.calls, req.customerId, body.reference_id.toLowerCase(), 'CALL_NOT_FOUND', 'call');
    const live = ctx.engine?.getLive(call.id);
    if (!live || live.ended) throw conflict('CALL_ALREADY_HANGUP', `call ${call.id} has ended; transcribe a live call`);
    if (!live.answered) throw conflict('CALL_STATE_INVALID', `call ${call.id} is ${call.status as string}; transcribe it once it is answered`);
    const row = await ctx.engine!.transcriptions.start(live, { language: body.language, direction: body.direction });
    if (!row) throw new ApiError(503, 'SERVICE_UNAVAILABLE', NO_STT_REASON);
    return row;
  });

  api.get('/transcribes', async (req) => {
    const q = queryOf(req);
    const filters: Record<string, string> = {};
    if (q.reference_id !== undefined && q.reference_id !== '') {
      if (!isUuid(q.reference_id)) {
        throw invalidArgument('reference_id: must be a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890', 'INVALID_REQUEST_PARAMETER');
      }
      filters.reference_id = q.reference_id.toLowerCase();
    }
    return listEnvelope(await store.transcribes.list(req.customerId, { ...parsePaging(q), filters }));
  });

  api.get('/transcribes/:id', async (req) => mustGet(store.transcribes, req.customerId, idParam(req), 'TRANSCRIBE_NOT_FOUND', 'transcribe'));

  api.post('/transcribes/:id/stop', async (req) => {
    const row = await mustGet(store.transcribes, req.customerId, idParam(req), 'TRANSCRIBE_NOT_FOUND', 'transcribe');
    // Stopping a transcribe that is already done is a no-op, like stopping an ended activeflow.
    if (row.status !== 'done') await ctx.engine?.transcriptions.stop(row.id);
    return (await store.transcribes.get(req.customerId, row.id)) ?? row;
  });

  api.delete('/transcribes/:id', async (req) => {
    const id = idParam(req);
    const row = await mustGet(store.transcribes, req.customerId, id, 'TRANSCRIBE_NOT_FOUND', 'transcribe');
    if (row.status !== 'done') await ctx.engine?.transcriptions.stop(row.id);
    return mustDelete(store.transcribes, req.customerId, id, 'TRANSCRIBE_NOT_FOUND', 'transcribe');
  });

  api.get('/transcripts', async (req) => {
    const q = queryOf(req);
    if (q.transcribe_id === undefined || q.transcribe_id === '') {
      throw invalidArgument('transcribe_id: required; send GET /transcripts?transcribe_id=<uuid of a transcribe>', 'MISSING_REQUEST_PARAMETER');
    }
    if (!isUuid(q.transcribe_id)) {
      throw invalidArgument('transcribe_id: must be a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890', 'INVALID_REQUEST_PARAMETER');
    }
    const transcribeId = q.transcribe_id.toLowerCase();
    await mustGet(store.transcribes, req.customerId, transcribeId, 'TRANSCRIBE_NOT_FOUND', 'transcribe');
    return listEnvelope(await store.transcripts.list(req.customerId, { ...parsePaging(q), filters: { transcribe_id: transcribeId } }));
  });
}
