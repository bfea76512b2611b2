import type { FastifyInstance } from 'fastify';

/** The base URL the in-process fetch answers; any host works, this one says what it is. */
export const IN_PROCESS_BASE_URL = 'http://local.voipbin-ai.invalid/v1.0';

/**
 * A `fetch` that serves requests from the local VoIPBIN app in this process (no socket), so
 * the one REST client talks to the embedded API exactly as it talks to api.voipbin.net.
 */
export function createInProcessFetch(app: FastifyInstance): typeof fetch {
  const inProcessFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(input, init);
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      headers[k] = v;
    });
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
