/**
 * Helper of bench/gateway.ts: the bare relay the gateway's CPU is compared with. A WebSocket
 * server that takes a Twilio-format media stream and, per stream, opens a Realtime-style WSS
 * connection (the same TLS fake, `?model=`, Bearer key): each Twilio `media` payload goes out as
 * `input_audio_buffer.append` (the base64 untouched), each `response.output_audio.delta` comes
 * back as a Twilio `media` message. Nothing else: no metering, no storage, no pacing, no decode.
 * Runs as a child with IPC (see _child.ts); env BENCH_FAKE_URL, BENCH_FAKE_CA_PATH, BENCH_FAKE_KEY.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { childIpc } from './_child.js';

const env = process.env;
const ca = readFileSync(env.BENCH_FAKE_CA_PATH!, 'utf8');
const upstreamUrl = `${env.BENCH_FAKE_URL!.replace(/^https/, 'wss')}/realtime?model=gpt-realtime`;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise<void>((r) => wss.once('listening', () => r()));

wss.on('connection', (carrier) => {
  let streamSid = '';
  let up: WebSocket | undefined;
  let upOpen = false;
  carrier.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString('utf8'));
    if (m.event === 'media') {
      if (upOpen) up!.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: m.media.payload }));
    } else if (m.event === 'start') {
      streamSid = m.start.streamSid;
      up = new WebSocket(upstreamUrl, { ca, headers: { authorization: `Bearer ${env.BENCH_FAKE_KEY}` } });
      up.on('open', () => (upOpen = true));
      up.on('message', (d: Buffer) => {
        const e = JSON.parse(d.toString('utf8'));
        if (e.type === 'response.output_audio.delta' && carrier.readyState === carrier.OPEN) {
          carrier.send(JSON.stringify({ event: 'media', streamSid, media: { payload: e.delta } }));
        }
      });
      up.on('close', () => carrier.close());
      up.on('error', () => {});
    }
  });
  carrier.on('close', () => up?.close());
  carrier.on('error', () => {});
});

childIpc({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` }, async () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
});
