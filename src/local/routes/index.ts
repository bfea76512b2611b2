import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { registerAccountRoutes } from './account.js';
import { registerAiRoutes } from './ais.js';
import { registerAicallRoutes } from './aicalls.js';
import { registerCallRoutes } from './calls.js';
import { registerMessagingRoutes } from './messaging.js';
import { registerNumberRoutes } from './numbers.js';
import { registerSummaryRoutes } from './aisummaries.js';
import { registerTranscribeRoutes } from './transcribes.js';

/** Registers every `/v1.0` resource of the local VoIPBIN. */
export function registerRoutes(api: FastifyInstance, ctx: LocalContext): void {
  registerAccountRoutes(api, ctx);
  registerAiRoutes(api, ctx);
  registerAicallRoutes(api, ctx);
  registerCallRoutes(api, ctx);
  registerMessagingRoutes(api, ctx);
  registerNumberRoutes(api, ctx);
  registerSummaryRoutes(api, ctx);
  registerTranscribeRoutes(api, ctx);
}
