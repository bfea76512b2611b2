import { createTtsProvider } from '../../src/providers/tts/index.js';
import type { TtsProvider, TtsProviderOptions, TtsRequest } from '../../src/providers/tts/index.js';
import type { FakeTtsServer } from './fake-tts-servers.js';

/** Every chunk a synthesis yields, and the samples joined. */
export async function collect(stream: AsyncIterable<Int16Array>): Promise<{ samples: Int16Array; chunks: Int16Array[] }> {
  const chunks: Int16Array[] = [];
  for await (const c of stream) chunks.push(c);
  const samples = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    samples.set(c, off);
    off += c.length;
  }
  return { samples, chunks };
}

/** The adapter for `fake`'s provider, pointed at it with its key. */
export function providerFor(fake: FakeTtsServer, opts: Partial<TtsProviderOptions> = {}): TtsProvider {
  return createTtsProvider(fake.provider, { apiKey: fake.apiKey, baseUrl: fake.baseUrl, ...opts });
}

/** Synthesizes and returns the error it rejects with (fails the test if it does not). */
export async function failureOf(provider: TtsProvider, req: TtsRequest): Promise<any> {
  try {
    await collect(provider.synthesize(req));
  } catch (err) {
    return err;
  }
  throw new Error('expected the synthesis to fail');
}

/** Polls `cond` until true (or throws after `ms`). */
export async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Wraps global fetch (the adapters' and the OpenAI SDK's transport) to record the byte size of
 * every response body chunk the client receives. Call the returned function to restore fetch.
 */
export function recordBodyChunkSizes(): { sizes: number[]; restore: () => void } {
  const original = globalThis.fetch;
  const sizes: number[] = [];
  globalThis.fetch = (async (...args: Parameters<typeof fetch>) => {
    const res = await original(...args);
    if (!res.ok || !res.body) return res;
    const spy = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        sizes.push(chunk.length);
        ctl.enqueue(chunk);
      },
    });
    return new Response(res.body.pipeThrough(spy), { status: res.status, statusText: res.statusText, headers: res.headers });
  }) as typeof fetch;
  return { sizes, restore: () => void (globalThis.fetch = original) };
}
