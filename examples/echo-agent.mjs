#!/usr/bin/env node
/**
 * An external agent for voipbin-ai, in plain Node.js (no build step): copy this file, `npm i ws`,
 * and run it. It speaks the external-agent WebSocket protocol v1 (docs/external-agent-protocol.md):
 *
 *   - accepts 16 kHz 16-bit PCM in and out,
 *   - greets the caller with a short two-tone chime,
 *   - records what the caller says and, after a pause (a simple energy-based end of turn),
 *     plays it back to them; speaking over the playback interrupts it (barge-in: `clear`),
 *   - on DTMF '1' calls the VoIPBIN tool set_variables, on '#' calls stop_service,
 *   - prints every message it gets.
 *
 *   node examples/echo-agent.mjs --port 9000 [--host 127.0.0.1] [--key <token>]
 *
 * With --key (or ECHO_AGENT_KEY) it refuses connections whose `Authorization: Bearer <token>` is
 * not that token: the token is the AI's engine_key. Point an AI at it with
 *   {"engine_model": "external.echo", "engine_key": "<token>", "parameter": {"agent_url": "ws://127.0.0.1:9000"}, ...}
 */
import { WebSocketServer } from 'ws';
import { timingSafeEqual } from 'node:crypto';

// ---- options --------------------------------------------------------------------------------
const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
}
const PORT = Number(opt('port', process.env.PORT ?? '9000'));
const HOST = opt('host', '127.0.0.1');
const KEY = opt('key', process.env.ECHO_AGENT_KEY ?? '');

const RATE = 16000; // pcm16/16000 in and out
const FRAME = (RATE / 1000) * 20; // samples per 20 ms
const SPEECH_RMS = 600; // above this a 20 ms frame counts as speech
const END_OF_TURN_MS = 600; // this much silence after speech ends the caller's turn
const MAX_TURN_MS = 10_000; // longest turn recorded

const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);

// ---- audio helpers --------------------------------------------------------------------------
/** A chime: tones (Hz) of `ms` each, with short fades, as 16-bit PCM at RATE. */
function chime(tones, ms) {
  const n = Math.round((RATE * ms) / 1000);
  const out = new Int16Array(n * tones.length);
  tones.forEach((hz, t) => {
    for (let i = 0; i < n; i++) {
      const fade = Math.min(1, i / 160, (n - i) / 160);
      out[t * n + i] = Math.round(8000 * fade * Math.sin((2 * Math.PI * hz * i) / RATE));
    }
  });
  return out;
}

function rms(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / Math.max(1, samples.length));
}

// ---- one call -------------------------------------------------------------------------------
function serveCall(ws) {
  const send = (msg) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(msg));
  let speaking = null; // the response being played: {id, timer}
  let responses = 0;
  let toolCalls = 0;
  let turn = []; // caller frames of the current turn
  let inSpeech = false;
  let silenceMs = 0;

  /** Plays `pcm` as one response, in real time (20 ms a frame, 100 ms ahead). */
  function speak(pcm, label) {
    stopSpeaking();
    const id = `r${++responses}`;
    send({ type: 'response_start', response_id: id });
    let pos = 0;
    const sendFrames = (count) => {
      for (let k = 0; k < count && pos < pcm.length; k++) {
        const frame = pcm.subarray(pos, pos + FRAME);
        ws.send(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
        pos += FRAME;
      }
      if (pos >= pcm.length) {
        clearInterval(timer);
        speaking = null;
        send({ type: 'mark', name: `${id}-end` });
        send({ type: 'response_end', response_id: id });
        send({ type: 'transcript', role: 'assistant', text: label, response_id: id });
      }
    };
    const timer = setInterval(() => sendFrames(1), 20);
    speaking = { id, timer };
    sendFrames(5); // a small lead
  }

  function stopSpeaking() {
    if (speaking) clearInterval(speaking.timer);
    speaking = null;
  }

  function callTool(name, args) {
    const id = `call_${++toolCalls}`;
    log(`-> tool_call ${name}`, JSON.stringify(args));
    send({ type: 'tool_call', id, name, arguments: args });
  }

  function onCallerFrame(samples) {
    const loud = rms(samples) > SPEECH_RMS;
    if (loud) {
      if (!inSpeech) {
        inSpeech = true;
        send({ type: 'event', event: 'speech_started' });
        log('caller started speaking');
        if (speaking) {
          // Barge-in: the caller talks over the playback.
          log(`barge-in: clearing ${speaking.id}`);
          stopSpeaking();
          send({ type: 'clear' });
        }
      }
      silenceMs = 0;
    } else if (inSpeech) {
      silenceMs += 20;
    }
    if (inSpeech && turn.length * 20 < MAX_TURN_MS) turn.push(Int16Array.from(samples));
    if (inSpeech && silenceMs >= END_OF_TURN_MS) {
      inSpeech = false;
      send({ type: 'event', event: 'speech_stopped' });
      const heard = turn.slice(0, Math.max(0, turn.length - END_OF_TURN_MS / 20)); // drop the trailing silence
      turn = [];
      const pcm = new Int16Array(heard.length * FRAME);
      heard.forEach((f, i) => pcm.set(f, i * FRAME));
      const ms = heard.length * 20;
      log(`caller turn over: ${ms} ms; echoing it back`);
      send({ type: 'transcript', role: 'user', text: `[${ms} ms of caller audio]` });
      if (ms > 0) speak(pcm, `[echo of ${ms} ms]`);
    }
  }

  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      // Caller audio, 16-bit little-endian PCM at 16 kHz (copy: `data` may be unaligned).
      const bytes = new Uint8Array(data.length - (data.length % 2));
      bytes.set(data.subarray(0, bytes.length));
      onCallerFrame(new Int16Array(bytes.buffer));
      return;
    }
    const msg = JSON.parse(data.toString());
    switch (msg.type) {
      case 'start': {
        log(`<- start aicall ${msg.aicall_id} call ${msg.call_id}; tools: ${msg.tools.map((t) => t.name).join(', ') || '(none)'}; offered: ${msg.audio.offered.join(', ')}`);
        log(`   variables: ${Object.keys(msg.variables).length}, language ${msg.config.language}, prompt: ${JSON.stringify(msg.config.init_prompt.slice(0, 60))}`);
        if (!msg.audio.offered.includes('pcm16/16000')) {
          send({ type: 'end', reason: 'this agent needs pcm16/16000' });
          return;
        }
        send({ type: 'accept', protocol: 1, audio: { input: 'pcm16/16000', output: 'pcm16/16000' } });
        return;
      }
      case 'begin':
        log('<- begin: greeting the caller');
        speak(chime([660, 880], 250), 'Hello! (a chime) Say something and I will repeat it. Press 1 to save a variable, # to end.');
        return;
      case 'dtmf':
        log(`<- dtmf ${msg.digit}`);
        if (msg.digit === '1') callTool('set_variables', { variables: { echo_agent_pressed: '1' } });
        else if (msg.digit === '#') callTool('stop_service', {});
        return;
      case 'tool_result':
        log(`<- tool_result ${msg.tool_call_id}: ${msg.result} ${JSON.stringify(msg.message)} run_llm=${msg.run_llm}`);
        return;
      case 'cleared':
        log(`<- cleared (${msg.cause}): ${msg.responses.map((r) => `${r.response_id} heard ${r.played_ms}/${r.queued_ms} ms`).join(', ') || 'nothing queued'}`);
        return;
      case 'mark':
        log(`<- mark ${msg.name} played=${msg.played}`);
        return;
      case 'hangup':
        log('<- hangup: the caller hung up');
        return;
      case 'stop':
        log(`<- stop: ${msg.reason}`);
        return;
      default:
        log(`<- ${msg.type}`, JSON.stringify(msg));
    }
  });
  ws.on('close', (code, reason) => {
    stopSpeaking();
    log(`connection closed (${code} ${reason})`);
  });
}

// ---- server ---------------------------------------------------------------------------------
function authorized(req) {
  if (!KEY) return true;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${KEY}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

const wss = new WebSocketServer({
  host: HOST,
  port: PORT,
  verifyClient: (info, cb) => (authorized(info.req) ? cb(true) : cb(false, 401, 'Unauthorized')),
});
wss.on('listening', () => {
  const a = wss.address();
  log(`echo agent listening on ws://${HOST}:${a.port}${KEY ? ' (bearer token required)' : ''}`);
});
wss.on('connection', (ws, req) => {
  // Never print the token itself: only whether one came.
  log(`gateway connected from ${req.socket.remoteAddress}; authorization: ${req.headers.authorization ? 'bearer token' : 'none'}`);
  serveCall(ws);
});
const quit = () => wss.close(() => process.exit(0));
process.on('SIGINT', quit);
process.on('SIGTERM', quit);
