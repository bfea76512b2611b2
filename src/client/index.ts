/**
 * The one VoIPBIN REST client (api.voipbin.net and the embedded local VoIPBIN).
 *
 * ```ts
 * const client = VoipbinClient.fromEnv();
 * const ai = await client.ais.create({ name: 'Support', engine_model: 'openai.gpt-5', ... });
 * for await (const call of await client.calls.list({ page_size: 50 })) console.log(call.id);
 * ```
 */
export {
  VoipbinClient,
  DEFAULT_BASE_URL,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRY_BASE_DELAY_MS,
  DEFAULT_RETRY_MAX_DELAY_MS,
  DEFAULT_MAX_RETRY_AFTER_MS,
  retryAfterMs,
} from './client.js';
export type { CallOptions, HttpMethod, Query, QueryValue, RequestOptions, VoipbinClientOptions } from './client.js';
export {
  VoipbinError,
  BadRequestError,
  AuthenticationError,
  PaymentRequiredError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  RateLimitError,
  InternalServerError,
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
} from './errors.js';
export type { VoipbinErrorInit } from './errors.js';
export { Page } from './pagination.js';
export {
  AIs,
  AICalls,
  AIMessages,
  AISummaries,
  Calls,
  Activeflows,
  Flows,
  Messages,
  Emails,
  Numbers,
  CustomerResource,
  AccessKeys,
  BillingAccounts,
} from './resources.js';
export type * from './types.js';
