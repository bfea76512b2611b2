import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { ApiError, canonicalStatus } from '../api/errors.js';
import type { LocalContext } from './context.js';
import { authenticate, safeEqual } from './customers.js';

/** Headers of in-process requests made as a customer (see LocalContext.internalToken). */
export const INTERNAL_TOKEN_HEADER = 'x-voipbin-ai-internal';
export const INTERNAL_CUSTOMER_HEADER = 'x-voipbin-ai-customer';
import { redact } from '../util/logger.js';
import { registerRoutes } from './routes/index.js';
import { emptyBody } from './routes/common.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated customer (set by the /v1.0 auth hook). */
    customerId: string;
  }
}

/** Largest JSON body the API accepts (VoIPBIN-sized requests are a few KB). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Deepest nesting of arrays and objects a JSON body may have (VoIPBIN bodies nest a few levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of a JSON text (arrays and objects), counted in one pass without recursion,
 * so a hostile body of 100,000 `[` cannot overflow the stack. Brackets inside strings do not count.
 * Stops counting (and returns a value above `limit`) as soon as `limit` is exceeded.
 */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** A new request id, as VoIPBIN's envelope carries it. */
export function newRequestId(): string {
  return 'req_' + randomBytes(12).toString('hex');
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerFrom(header: string | undefined): string | undefined {
  if (!header || !/^Bearer\s+/i.test(header)) return undefined;
  return header.replace(/^Bearer\s+/i, '').trim() || undefined;
}

/** The bearer token or `?accesskey=` of a request, if any. */
export function requestToken(req: FastifyRequest): string | undefined {
  const bearer = bearerFrom(req.headers.authorization);
  if (bearer) return bearer;
  const q = req.query as Record<string, unknown> | undefined;
  const key = q?.accesskey;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/**
 * The `/v1.0` authentication hook: the process's internal token (acting as a named customer), or
 * an access key as a bearer token or `?accesskey=`. Sets `req.customerId`; 401 otherwise. Every
 * route group under `/v1.0` (the local API, the gateway's control API) uses this one hook.
 */
export function authenticateRequest(ctx: LocalContext): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const internal = req.headers[INTERNAL_TOKEN_HEADER];
    if (ctx.internalToken && typeof internal === 'string' && safeEqual(internal, ctx.internalToken)) {
      const customer = req.headers[INTERNAL_CUSTOMER_HEADER];
      if (typeof customer === 'string' && customer) {
        req.customerId = customer;
        return;
      }
    }
    const token = requestToken(req);
    if (!token) {
      throw new ApiError(401, 'AUTHENTICATION_REQUIRED', 'send an access key as Authorization: Bearer <key> or ?accesskey=<key>');
    }
    const customerId = await authenticate(ctx.store, token);
    if (!customerId) throw new ApiError(401, 'INVALID_CREDENTIALS', 'the access key is not valid (unknown, deleted or expired)');
    req.customerId = customerId;
  };
}

function sendError(reply: FastifyReply, req: FastifyRequest, err: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply.code(err.httpStatus).send(err.toEnvelope(req.id));
}

/**
 * Creates the local VoIPBIN: a Fastify app whose `/v1.0` routes follow VoIPBIN's REST
 * conventions (auth by access key, list and error envelopes, customer scoping). Other parts
 * (the MCP endpoint, media WebSockets) are added to the same app by their owners.
 */
export function createLocalApi(ctx: LocalContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: newRequestId,
    // VoIPBIN ids and paths are case-sensitive; keep trailing-slash variants working.
    routerOptions: { ignoreTrailingSlash: true },
    // Errors Fastify answers itself (a malformed URL) bypass the error handler and onSend.
    frameworkErrors: (_err, req, reply) => {
      reply.header('x-request-id', req.id);
      sendError(reply, req, new ApiError(400, 'INVALID_ARGUMENT', 'the request URL is not valid (malformed percent-encoding)'));
    },
  });
  app.decorateRequest('customerId', '');

  // JSON bodies: an empty body (e.g. `Content-Type: application/json` on a DELETE or a body-less
  // POST such as /calls/{id}/hangup) is no body at all; routes that need one say so. The depth is
  // checked before parsing; Fastify's parser (prototype-poisoning checks included) does the rest.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      return done(new ApiError(400, 'INVALID_ARGUMENT', `the request body nests deeper than ${MAX_JSON_DEPTH} levels; send a flatter JSON object`), undefined);
    }
    defaultJson(req, text, done);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    ctx.logger.info('http', {
      method: req.method,
      url: redact(req.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      request_id: req.id,
    });
  });

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    if (err instanceof ApiError) return sendError(reply, req, err);
    const code = (err as FastifyError).code;
    const status = (err as FastifyError).statusCode ?? 500;
    if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (status === 400 && err instanceof SyntaxError)) {
      return sendError(reply, req, new ApiError(400, 'INVALID_JSON_BODY', 'the request body is not valid JSON'));
    }
    if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return sendError(reply, req, emptyBody());
    }
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, req, new ApiError(413, 'INVALID_ARGUMENT', `the request body is larger than ${BODY_LIMIT_BYTES} bytes`));
    }
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendError(reply, req, new ApiError(415, 'INVALID_ARGUMENT', 'send the body as Content-Type: application/json'));
    }
    if (status >= 400 && status < 500) {
      return sendError(reply, req, new ApiError(status, canonicalStatus(status), 'the request could not be processed'));
    }
    // Never echo an unexpected error's text: it could carry request data. Log it redacted.
    ctx.logger.error('unhandled error', { request_id: req.id, error: String(err?.stack ?? err) });
    return sendError(reply, req, new ApiError(500, 'INTERNAL', 'internal error; quote the request_id when reporting it'));
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, req, new ApiError(404, 'ROUTE_NOT_FOUND', `no such endpoint: ${req.method} ${redact(req.url.split('?')[0] ?? '')}`)),
  );

  app.register(
    async (api) => {
      api.addHook('onRequest', authenticateRequest(ctx));
      registerRoutes(api, ctx);
    },
    { prefix: '/v1.0' },
  );

  return app;
}
