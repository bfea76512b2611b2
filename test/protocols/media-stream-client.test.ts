import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  AuthenticationError,
  ConflictError,
  NotFoundError,
  VoipbinError,
} from '../../src/client/errors.js';
import { connectMediaStream, mediaStreamUrl } from '../../streams/media-stream-client.js';
import type { MediaStreamClient } from '../../streams/media-stream-client.js';
import { MediaProtocolError, createEncapsulationCodec } from '../../streams/protocols/index.js';
import type { Encapsulation } from '../../streams/protocols/index.js';
import { STREAM_UUID, TONE, TONE_FRAMES, startFakeMediaStreamServer } from './fake-media-stream-server.js';
import type { FakeMediaStreamServer } from './fake-media-stream-server.js';

const KEY = 'vbk_media_stream_test_key_0123456789';
const CALL_ID = '652af662-eb45-11ee-b1a5-6fde165f9226';

let server: FakeMediaStreamServer;
beforeAll(async () => {
  server = await startFakeMediaStreamServer(KEY);
});
afterAll(async () => {
  await server.close();
});

/** Listens to a client and keeps copies of everything it emits. */
function record(client: MediaStreamClient) {
  const rec = {
    frames: [] as Int16Array[],
    dtmf: [] as string[],
    uuids: [] as string[],
    errors: [] as Error[],
    closed: undefined as { code: number; reason: string } | undefined,
    /** All received samples concatenated. */
    samples(): Int16Array {
      const out = new Int16Array(rec.frames.reduce((n, f) => n + f.length, 0));
      let o = 0;
      for (const f of rec.frames) {
        out.set(f, o);
        o += f.length;
      }
      return out;
    },
  };
  client.on('audio', (s) => rec.frames.push(Int16Array.from(s)));
  client.on('dtmf', (d) => rec.dtmf.push(d));
  client.on('uuid', (id) => rec.uuids.push(id));
  client.on('error', (e) => rec.errors.push(e));
  client.on('close', (code, reason) => (rec.closed = { code, reason }));
  return rec;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('mediaStreamUrl', () => {
  it('builds {base}/calls/{id}/media_stream?encapsulation=... and maps http(s) to ws(s)', () => {
    expect(mediaStreamUrl('https://api.voipbin.net/v1.0/', 'rtp', CALL_ID).toString()).toBe(
      `wss://api.voipbin.net/v1.0/calls/${CALL_ID}/media_stream?encapsulation=rtp`,
    );
    expect(mediaStreamUrl('http://127.0.0.1:9/v1.0/conferences/c1/media_stream?token=t&encapsulation=sln', 'audiosocket').toString()).toBe(
      'ws://127.0.0.1:9/v1.0/conferences/c1/media_stream?token=t&encapsulation=audiosocket',
    );
  });

  it('rejects bad URLs without echoing them', () => {
    expect(() => mediaStreamUrl(`not a url?token=${KEY}`, 'rtp')).toThrow(/not a valid URL$/);
    expect(() => mediaStreamUrl(`ftp://x/?token=${KEY}`, 'rtp')).toThrow(/scheme ftp:/);
    expect(() => mediaStreamUrl('ws://x/', 'mp3' as Encapsulation)).toThrow(/encapsulation/);
  });
});

describe.each(['sln', 'rtp', 'audiosocket'] as const)('connectMediaStream over %s', (encapsulation) => {
  it('receives the exact tone, and its 20 ms frames are echoed back exactly', async () => {
    const client = await connectMediaStream({ url: server.api, callId: CALL_ID, encapsulation, accessKey: KEY });
    const rec = record(client);
    const conn = await server.nextConnection();
    expect(conn.callId).toBe(CALL_ID);
    expect(conn.encapsulation).toBe(encapsulation);
    expect(conn.authorization).toBe(`Bearer ${KEY}`);
    expect(conn.url).not.toContain(KEY);

    await vi.waitFor(() => expect(rec.frames.length).toBe(TONE_FRAMES));
    expect(rec.frames.every((f) => f.length === 160)).toBe(true);
    expect(rec.samples()).toEqual(TONE);
    if (encapsulation === 'audiosocket') {
      expect(rec.uuids).toEqual([STREAM_UUID]);
      expect(rec.dtmf).toEqual(['7']);
    }

    // 400 + 240 samples: re-framed to exactly four 20 ms messages (80 samples carried over).
    const ramp = Int16Array.from({ length: 640 }, (_, i) => (i * 97) % 65536 - 32768);
    expect(client.sendAudio(ramp.subarray(0, 400))).toBe(true);
    expect(client.pendingSamples).toBe(80);
    client.sendAudio(ramp.subarray(400));
    expect(client.pendingSamples).toBe(0);

    await vi.waitFor(() => expect(rec.frames.length).toBe(TONE_FRAMES + 4));
    expect(rec.samples().subarray(TONE.length)).toEqual(ramp);
    expect(conn.received.length).toBe(4);
    const header = { sln: 0, rtp: 12, audiosocket: 3 }[encapsulation];
    expect(conn.received.every((m) => m.length === header + 320)).toBe(true);
    if (encapsulation === 'rtp') {
      const seq = conn.received.map((m) => m.readUInt16BE(2));
      const ts = conn.received.map((m) => m.readUInt32BE(4));
      expect(conn.received.map((m) => m[1])).toEqual([0x80 | 96, 96, 96, 96]);
      expect(seq.map((s) => (s - seq[0] + 65536) % 65536)).toEqual([0, 1, 2, 3]);
      expect(ts.map((t) => (t - ts[0] + 2 ** 32) % 2 ** 32)).toEqual([0, 160, 320, 480]);
    }

    client.close();
    await vi.waitFor(() => expect(rec.closed).toEqual({ code: 1000, reason: '' }));
    expect((await conn.closed).code).toBe(1000);
    expect(rec.errors).toEqual([]);
    expect(client.sendAudio(ramp)).toBe(false);
  });
});

describe('connectMediaStream', () => {
  it('rejects a 409 handshake with the HTTP status and the envelope reason', async () => {
    const err = await rejection(connectMediaStream({ url: server.api, callId: 'ended', encapsulation: 'rtp', accessKey: KEY }));
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toBeInstanceOf(VoipbinError);
    expect((err as VoipbinError).status).toBe(409);
    expect((err as VoipbinError).reason).toBe('CALL_STATE_INVALID');
    expect((err as VoipbinError).requestId).toBe('req_test_0001');
    expect(err.message).toContain('call is not progressing');
    expect(err.message + (err.stack ?? '')).not.toContain(KEY);
  });

  it('rejects 401 and 404 handshakes with their typed errors', async () => {
    const unauth = await rejection(connectMediaStream({ url: server.api, callId: CALL_ID, encapsulation: 'sln', accessKey: 'wrong-key-000' }));
    expect(unauth).toBeInstanceOf(AuthenticationError);
    expect((unauth as VoipbinError).status).toBe(401);
    expect((unauth as VoipbinError).reason).toBe('AUTHENTICATION_REQUIRED');
    const missing = await rejection(connectMediaStream({ url: server.api, callId: 'missing', encapsulation: 'sln', accessKey: KEY }));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as VoipbinError).reason).toBe('CALL_NOT_FOUND');
  });

  it('accepts a token the caller put in the URL', async () => {
    const client = await connectMediaStream({
      url: `${server.api}/calls/${CALL_ID}/media_stream?token=${KEY}`,
      encapsulation: 'sln',
    });
    const conn = await server.nextConnection();
    expect(conn.authorization).toBeUndefined();
    expect(new URL(conn.url, 'http://x').searchParams.get('encapsulation')).toBe('sln');
    client.close();
    await conn.closed;
  });

  it('closes with 1007 and emits a MediaProtocolError on a malformed message', async () => {
    const client = await connectMediaStream({ url: server.api, callId: CALL_ID, encapsulation: 'rtp', accessKey: KEY });
    const rec = record(client);
    const conn = await server.nextConnection();
    const bad = Buffer.from(createEncapsulationCodec('rtp').encodeAudio(new Int16Array(160)));
    bad[1] = 0; // payload type 0 (PCMU)
    conn.socket.send(bad);
    const closed = await conn.closed;
    expect(closed).toEqual({ code: 1007, reason: 'rtp payload type 0, expected 96' });
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]).toBeInstanceOf(MediaProtocolError);
    await vi.waitFor(() => expect(rec.closed?.code).toBe(1007));
  });

  it('closes with 1003 on a text message', async () => {
    const client = await connectMediaStream({ url: server.api, callId: CALL_ID, encapsulation: 'sln', accessKey: KEY });
    const rec = record(client);
    const conn = await server.nextConnection();
    conn.socket.send('hello');
    expect((await conn.closed).code).toBe(1003);
    await vi.waitFor(() => expect(rec.closed?.code).toBe(1003));
  });

  it('reports the server closing the stream (call ended)', async () => {
    const client = await connectMediaStream({ url: server.api, callId: CALL_ID, encapsulation: 'audiosocket', accessKey: KEY });
    const rec = record(client);
    const conn = await server.nextConnection();
    conn.socket.close(1000, 'call hangup');
    await vi.waitFor(() => expect(rec.closed).toEqual({ code: 1000, reason: 'call hangup' }));
    expect(client.isOpen).toBe(false);
  });

  describe('without a usable server', () => {
    let silent: Server;
    let silentPort = 0;
    beforeAll(async () => {
      // Accepts TCP connections and never answers the upgrade (reads, so it sees the client go).
      silent = createServer((socket) => socket.resume());
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      silentPort = (silent.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((r) => silent.close(() => r()));
    });

    it('times out the handshake', async () => {
      const t0 = Date.now();
      const err = await rejection(
        connectMediaStream({ url: `ws://127.0.0.1:${silentPort}/v1.0`, callId: CALL_ID, encapsulation: 'rtp', accessKey: KEY, handshakeTimeoutMs: 200 }),
      );
      expect(err).toBeInstanceOf(APITimeoutError);
      expect(Date.now() - t0).toBeLessThan(5000);
    });

    it('aborts the handshake through the signal', async () => {
      const ac = new AbortController();
      const p = connectMediaStream({ url: `ws://127.0.0.1:${silentPort}/v1.0`, callId: CALL_ID, encapsulation: 'rtp', accessKey: KEY, signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      expect(await rejection(p)).toBeInstanceOf(APIUserAbortError);
      expect(await rejection(connectMediaStream({ url: server.api, encapsulation: 'rtp', signal: ac.signal }))).toBeInstanceOf(APIUserAbortError);
    });

    it('reports a refused connection as APIConnectionError without the key', async () => {
      // A port that was free a moment ago: listen, note it, close.
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as AddressInfo).port;
      await new Promise<void>((r) => probe.close(() => r()));
      const err = await rejection(connectMediaStream({ url: `ws://127.0.0.1:${port}/v1.0?token=${KEY}`, callId: CALL_ID, encapsulation: 'sln' }));
      expect(err).toBeInstanceOf(APIConnectionError);
      expect(err.message).not.toContain(KEY);
    });
  });

  it('closes an open stream when the signal aborts', async () => {
    const ac = new AbortController();
    const client = await connectMediaStream({ url: server.api, callId: CALL_ID, encapsulation: 'rtp', accessKey: KEY, signal: ac.signal });
    const rec = record(client);
    const conn = await server.nextConnection();
    ac.abort();
    expect((await conn.closed).code).toBe(1000);
    await vi.waitFor(() => expect(rec.closed?.code).toBe(1000));
  });
});
