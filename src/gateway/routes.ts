/**
 * The gateway's control API on the serve app, authenticated like the rest of `/v1.0` (a local
 * access key), with VoIPBIN's error envelope:
 *
 *   POST /v1.0/gateway/sessions              {call_id, ai_id | ai, encapsulation?, aicall_id?} → 200 the session
 *   GET  /v1.0/gateway/sessions              → {result: [sessions, newest first], next_page_token: ""}
 *   GET  /v1.0/gateway/sessions/{id}         → the session
 *   GET  /v1.0/gateway/sessions/{id}/messages → {result: [messages, oldest first], next_page_token: ""}
 *   POST /v1.0/gateway/sessions/{id}/stop    → 200 the ended session
 *
 * Without a remote VoIPBIN (VOIPBIN_API_URL + VOIPBIN_ACCESSKEY) every route answers 409
 * GATEWAY_NOT_CONFIGURED saying what to set.
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api/errors.js';
import type { LocalContext } from '../local/context.js';
import { authenticateRequest } from '../local/app.js';
import { idParam, parseBody, strictObject, uuidString } from '../local/routes/common.js';
import { ENCAPSULATIONS } from '../../streams/protocols/encapsulation.js';
import { GATEWAY_NOT_CONFIGURED } from './sessions.js';
import type { GatewaySessions } from './sessions.js';

const InlineAiSchema = strictObject(
  {
    engine_model: z.string({ message: 'required; send an engine model like openai.gpt-realtime' }).min(1),
    init_prompt: z.string().optional(),
    tts_type: z.string().optional(),
    tts_voice_id: z.string().optional(),
    stt_type: z.string().optional(),
    stt_language: z.string().optional(),
    tool_names: z.array(z.string()).optional(),
    parameter: z.record(z.string(), z.unknown()).optional(),
  },
  { notObject: 'must be an object like {"engine_model": "openai.gpt-realtime", "init_prompt": "..."}' },
);

export const StartSessionSchema = strictObject({
  call_id: uuidString('call_id'),
  ai_id: uuidString('ai_id').optional(),
  ai: InlineAiSchema.optional(),
  encapsulation: z.enum(ENCAPSULATIONS as [string, ...string[]], { message: `must be one of ${ENCAPSULATIONS.join(', ')}` }).optional(),
  aicall_id: uuidString('aicall_id').optional(),
});

/** Registers the gateway routes under `/v1.0` (with the local API's authentication). */
export function registerGatewayRoutes(app: FastifyInstance, ctx: LocalContext, gateway: GatewaySessions): void {
  app.register(
    async (api) => {
      api.addHook('onRequest', authenticateRequest(ctx));
      api.addHook('preHandler', async () => {
        if (!gateway.available) throw new ApiError(409, 'GATEWAY_NOT_CONFIGURED', GATEWAY_NOT_CONFIGURED);
      });

      api.post('/gateway/sessions', async (req) => {
        const body = parseBody(StartSessionSchema, req.body);
        if (!body.ai_id && !body.ai) throw new ApiError(400, 'INVALID_ARGUMENT', 'ai_id: required; send the id of an AI of the remote VoIPBIN, or an inline "ai" configuration');
        if (body.ai_id && body.ai) throw new ApiError(400, 'INVALID_ARGUMENT', 'ai: send either ai_id or ai, not both');
        return gateway.start({
          call_id: body.call_id,
          ai_id: body.ai_id,
          ai: body.ai,
          encapsulation: body.encapsulation as 'sln' | 'rtp' | 'audiosocket' | undefined,
          aicall_id: body.aicall_id,
          owner: req.customerId,
        });
      });
      api.get('/gateway/sessions', async (req) => ({ result: gateway.list(req.customerId), next_page_token: '' }));
      api.get('/gateway/sessions/:id', async (req) => gateway.get(idParam(req), req.customerId));
      api.get('/gateway/sessions/:id/messages', async (req) => ({ result: gateway.messages(idParam(req), req.customerId), next_page_token: '' }));
      api.post('/gateway/sessions/:id/stop', async (req) => gateway.stop(idParam(req), req.customerId));
    },
    { prefix: '/v1.0' },
  );
}
