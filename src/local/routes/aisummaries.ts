import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { idParam, mustDelete, mustGet, parseBody, queryOf, uuidString } from './common.js';
import { invalidArgument } from '../../api/errors.js';
import { NIL_UUID, idOrNil, newId, isUuid } from '../../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import type { Row } from '../../../db/store.js';

const REFERENCE_TYPES = ['call', 'conference', 'transcribe', 'recording'] as const;

const SummaryCreate = z.object({
  on_end_flow_id: z.string().refine((s) => s === '' || isUuid(s), { message: 'must be a flow UUID or empty' }).optional(),
  reference_type: z.enum(REFERENCE_TYPES, { message: `must be one of ${REFERENCE_TYPES.join(', ')}` }),
  reference_id: uuidString('reference_id'),
  language: z.string({ message: 'must be a language code like en-US' }).optional(),
});

/**
 * `/aisummaries`. A summary is stored `progressing`; the engine's summary LLM then writes its
 * content from the referenced call's transcripts and AI messages and marks it `done`.
 */
export function registerSummaryRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  api.post('/aisummaries', async (req) => {
    const body = parseBody(SummaryCreate, req.body);
    const refId = body.reference_id.toLowerCase();
    if (body.reference_type === 'call' && !(await store.calls.get(req.customerId, refId))) {
      throw invalidArgument(`reference_id: call ${refId} not found; take the id from GET /calls`);
    }
    const row: Row = {
      id: newId(),
      customer_id: req.customerId,
      activeflow_id: NIL_UUID,
      on_end_flow_id: idOrNil(body.on_end_flow_id),
      reference_type: body.reference_type,
      reference_id: refId,
      status: 'progressing',
      language: body.language ?? 'en-US',
      content: '',
      tm_create: nowTimestamp(),
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    };
    const stored = await store.aisummaries.insert(row);
    // Generation runs in the background: the summary is `progressing` until its content is written.
    if (ctx.engine) void ctx.engine.summarize(stored);
    return stored;
  });

  api.get('/aisummaries', async (req) => listEnvelope(await store.aisummaries.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/aisummaries/:id', async (req) => mustGet(store.aisummaries, req.customerId, idParam(req), 'SUMMARY_NOT_FOUND', 'ai summary'));
  api.delete('/aisummaries/:id', async (req) =>
    mustDelete(store.aisummaries, req.customerId, idParam(req), 'SUMMARY_NOT_FOUND', 'ai summary'),
  );
}
