import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PaymentRequiredError,
  PermissionDeniedError,
  RateLimitError,
  VoipbinClient,
  VoipbinError,
} from '../../src/client/index.js';
import { expectConformsResponse } from '../helpers/openapi.js';
import { captureLogger } from './capture-logger.js';
import { FakeVoipbin } from './fake-voipbin.js';

describe('VoipbinError.fromResponse', () => {
  it('parses the VoIPBIN envelope into a short message', () => {
    const err = VoipbinError.fromResponse(
      404,
      JSON.stringify({
        error: { status: 'NOT_FOUND', reason: 'AI_NOT_FOUND', message: 'ai not found', request_id: 'req_01HXYZ' },
      }),
      { 'Content-Type': 'application/json' },
    );
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toBeInstanceOf(VoipbinError);
    expect(err.name).toBe('NotFoundError');
    expect(err.message).toBe('404 AI_NOT_FOUND: ai not found (request_id req_01HXYZ)');
    expect(err.status).toBe(404);
    expect(err.canonicalStatus).toBe('NOT_FOUND');
    expect(err.reason).toBe('AI_NOT_FOUND');
    expect(err.serverMessage).toBe('ai not found');
    expect(err.requestId).toBe('req_01HXYZ');
    expect(err.headers['content-type']).toBe('application/json');
  });

  it('accepts an already parsed body and keeps details', () => {
    const err = VoipbinError.fromResponse(429, {
      error: {
        status: 'RESOURCE_EXHAUSTED',
        reason: 'RATE_LIMIT_EXCEEDED',
        message: 'slow down',
        request_id: 'req_1',
        details: [{ limited_by: 'ip' }],
      },
    });
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.details).toEqual([{ limited_by: 'ip' }]);
  });

  it('tolerates the older flat shape {message}', () => {
    const err = VoipbinError.fromResponse(400, '{"message":"invalid destination"}');
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.reason).toBe('INVALID_ARGUMENT');
    expect(err.canonicalStatus).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('400 INVALID_ARGUMENT: invalid destination');
    expect(err.requestId).toBeUndefined();
  });

  it('tolerates {error: "text"} and flat {reason, message, request_id}', () => {
    expect(VoipbinError.fromResponse(403, { error: 'forbidden' }).message).toBe('403 PERMISSION_DENIED: forbidden');
    const flat = VoipbinError.fromResponse(409, { reason: 'CALL_ALREADY_HANGUP', message: 'gone', request_id: 'req_2' });
    expect(flat).toBeInstanceOf(ConflictError);
    expect(flat.message).toBe('409 CALL_ALREADY_HANGUP: gone (request_id req_2)');
  });

  it('tolerates an empty body', () => {
    const err = VoipbinError.fromResponse(503, '');
    expect(err).toBeInstanceOf(InternalServerError);
    expect(err.canonicalStatus).toBe('UNAVAILABLE');
    expect(err.message).toBe('503 UNAVAILABLE: Service Unavailable');
  });

  it('tolerates a non-JSON body (plain text is quoted briefly, HTML is not)', () => {
    const text = VoipbinError.fromResponse(502, 'upstream connect error '.repeat(40));
    expect(text).toBeInstanceOf(InternalServerError);
    expect(text.message.startsWith('502 INTERNAL: upstream connect error')).toBe(true);
    expect(text.message.length).toBeLessThan(260);
    const html = VoipbinError.fromResponse(502, '<html><body><h1>502 Bad Gateway</h1></body></html>');
    expect(html.message).toBe('502 INTERNAL: non-JSON response body');
  });

  it('uses the x-request-id header when the body has none', () => {
    const err = VoipbinError.fromResponse(500, '', new Headers({ 'X-Request-Id': 'req_hdr' }));
    expect(err.requestId).toBe('req_hdr');
  });

  it('never repeats a secret from the request URL that a server echoes', () => {
    const err = VoipbinError.fromResponse(401, {
      error: {
        status: 'UNAUTHENTICATED',
        reason: 'INVALID_CREDENTIALS',
        message: 'bad key for GET /v1.0/ais?accesskey=sk-echoed-0123456789&token=abcdef123456 (Bearer eyJ.abc.def)',
        request_id: 'req_3',
      },
    });
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.message).not.toContain('sk-echoed-0123456789');
    expect(err.message).not.toContain('abcdef123456');
    expect(err.message).not.toContain('eyJ.abc.def');
    expect(err.message).toContain('accesskey=[redacted]');
  });

  it('maps statuses without a dedicated class to VoipbinError', () => {
    const err = VoipbinError.fromResponse(413, '');
    expect(err.constructor).toBe(VoipbinError);
    expect(err.canonicalStatus).toBe('INVALID_ARGUMENT');
  });
});

describe('typed errors over HTTP', () => {
  let fake: FakeVoipbin;
  let client: VoipbinClient;
  const { logger } = captureLogger();

  beforeAll(async () => {
    fake = await FakeVoipbin.start();
    client = new VoipbinClient({ baseUrl: fake.baseUrl, maxRetries: 0, logger });
  });
  afterAll(() => fake.close());

  const cases = [
    { status: 400, reason: 'INVALID_ARGUMENT', cls: BadRequestError, canonical: 'INVALID_ARGUMENT' },
    { status: 401, reason: 'INVALID_CREDENTIALS', cls: AuthenticationError, canonical: 'UNAUTHENTICATED' },
    { status: 402, reason: 'INSUFFICIENT_BALANCE', cls: PaymentRequiredError, canonical: 'PAYMENT_REQUIRED' },
    { status: 403, reason: 'PERMISSION_DENIED', cls: PermissionDeniedError, canonical: 'PERMISSION_DENIED' },
    { status: 404, reason: 'AI_NOT_FOUND', cls: NotFoundError, canonical: 'NOT_FOUND' },
    { status: 409, reason: 'CALL_ALREADY_HANGUP', cls: ConflictError, canonical: 'FAILED_PRECONDITION' },
    { status: 429, reason: 'RATE_LIMIT_EXCEEDED', cls: RateLimitError, canonical: 'RESOURCE_EXHAUSTED' },
    { status: 500, reason: 'INTERNAL', cls: InternalServerError, canonical: 'INTERNAL' },
    { status: 503, reason: 'SERVICE_UNAVAILABLE', cls: InternalServerError, canonical: 'UNAVAILABLE' },
  ] as const;

  for (const c of cases) {
    it(`${c.status} → ${c.cls.name} with reason and request_id`, async () => {
      const answer = FakeVoipbin.error(c.status, c.reason, `failure ${c.status}`);
      expectConformsResponse('GET', '/ais/{id}', c.status, answer.body);
      const id = '0b5cf1a6-3f6a-4a43-9f8e-2b7b1c0e9d11';
      fake.script('GET', `/ais/${id}`, answer);
      const err = await client.ais.get(id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(c.cls);
      const e = err as VoipbinError;
      const requestId = (answer.body as { error: { request_id: string } }).error.request_id;
      expect(e.status).toBe(c.status);
      expect(e.canonicalStatus).toBe(c.canonical);
      expect(e.reason).toBe(c.reason);
      expect(e.requestId).toBe(requestId);
      expect(e.message).toBe(`${c.status} ${c.reason}: failure ${c.status} (request_id ${requestId})`);
    });
  }

  it("the fake's own 404 is a conforming envelope that becomes NotFoundError", async () => {
    const id = '7d0f3c1e-8a55-4d2b-9d7e-6b1e0f2a3c4d';
    const res = await fetch(`${fake.baseUrl}/ais/${id}`);
    expectConformsResponse('GET', `/ais/${id}`, res.status, await res.json());
    const err = await client.ais.get(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).reason).toBe('AI_NOT_FOUND');
    expect((err as NotFoundError).requestId).toMatch(/^req_/);
  });

  it('a non-JSON 502 from a proxy is an InternalServerError', async () => {
    fake.script('GET', '/customer', { status: 502, rawBody: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } });
    const err = await client.customer.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalServerError);
    expect((err as VoipbinError).message).toBe('502 INTERNAL: non-JSON response body');
  });

  it('connection and timeout errors have no status', () => {
    const conn = new APIConnectionError();
    const timeout = new APITimeoutError();
    expect(conn.status).toBeUndefined();
    expect(timeout).toBeInstanceOf(APIConnectionError);
    expect(timeout.reason).toBe('TIMEOUT');
    expect(conn.canonicalStatus).toBe('UNAVAILABLE');
  });
});
