import type { FastifyInstance } from 'fastify';
import { INTERNAL_CUSTOMER_HEADER, INTERNAL_TOKEN_HEADER } from './app.js';

/** The base URL the in-process fetch answers; any host works, this one says what it is. */
export const IN_PROCESS_BASE_URL = 'http://local.voipbin-ai.invalid/v1.0';

/**
 * A `fetch` that serves requests from the local VoIPBIN app in this process (no socket), so
 * the one REST client talks to the embedded API exactly as it talks to api.voipbin.net. With
 * `actAs`, each request is made as that customer through the process's internal token.
 */
export function createInProcessFetch(
  app: FastifyInstance,
  actAs?: { customerId: string; internalToken: string },
): typeof fetch {
  const inProcessFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(input, init);
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      headers[k] = v;
    });
    if (actAs) {
      headers[INTERNAL_TOKEN_HEADER] = actAs.internalToken;
      headers[INTERNAL_CUSTOMER_HEADER] = actAs.customerId;
    }
    const payload = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    if (req.signal?.aborted) throw req.signal.reason ?? new DOMException('aborted', 'AbortError');
    const res = await app.inject({
      method: req.method as 'GET',
      url: url.pathname + url.search,
      headers,
      payload,
    });
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      out.set(k, Array.isArray(v) ? v.join(', ') : String(v));
    }
    return new Response(res.statusCode === 204 ? null : res.rawPayload, { status: res.statusCode, headers: out });
  };
  return inProcessFetch as typeof fetch;
}
