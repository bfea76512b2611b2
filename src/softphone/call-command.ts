import { parseOrExit } from '../cli-args.js';
import type { CommandSpec } from '../cli-args.js';
import { readWavFile, writeWavFile } from '../../streams/audio/wav.js';
import { createResampler } from '../../streams/audio/resampler.js';
import { Pacer } from '../../streams/audio/pacer.js';
import { LocalPhoneClient, LocalServerError, isUnreachableError, serverOrigin } from './local-phone-client.js';
import type { PhoneAddress, PhoneServerMessage } from '../local/ws/phone-protocol.js';

export const CALL_USAGE = `usage: voipbin-ai call [--to <number|extension>] [--as <number|ext:name>] [--play in.wav] [--record out.wav]
                       [--key <accesskey>] [--url http://127.0.0.1:8080] [--max-seconds 60] [--linger-seconds 1]

  Without --to it waits for a call to --as and answers it. With --to it places the call.
  --play sends the WAV as the caller's voice (any rate; converted to 8 kHz), then hangs up
  --linger-seconds after it ends (unless the other side hangs up first). --record writes what
  this phone heard as an 8 kHz WAV. --as defaults to the account's first local number.
  The key defaults to VOIPBIN_LOCAL_ACCESSKEY, the url to http://HOST:PORT.`;

const CALL_SPEC = {
  name: 'call',
  usage: CALL_USAGE,
  options: {
    to: { type: 'string' },
    as: { type: 'string' },
    play: { type: 'string' },
    record: { type: 'string' },
    key: { type: 'string' },
    url: { type: 'string' },
    'max-seconds': { type: 'string', default: '60' },
    'linger-seconds': { type: 'string', default: '1' },
  },
} as const satisfies CommandSpec<Record<string, { type: 'string'; default?: string }>>;

export interface CallCommandIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** `voipbin-ai call`: a command-line softphone for the local VoIPBIN. Returns the exit code. */
export async function runCallCommand(argv: string[], io: CallCommandIo): Promise<number> {
  const args = parseOrExit(CALL_SPEC, argv, io);
  if (typeof args === 'number') return args;
  const opts = args.values;
  const key = opts.key ?? io.env.VOIPBIN_LOCAL_ACCESSKEY;
  if (!key) {
    io.err('an access key is needed: --key <key> or VOIPBIN_LOCAL_ACCESSKEY (serve prints the local key at first start)');
    return 2;
  }
  const baseUrl = serverOrigin(opts.url ?? `http://${io.env.HOST ?? '127.0.0.1'}:${io.env.PORT ?? '8080'}`);
  // Say where the refused key came from, so the hint names the thing to fix.
  const explain = (err: unknown): string =>
    err instanceof LocalServerError && err.status === 401
      ? `${err.message}: check ${opts.key !== undefined ? '--key' : 'VOIPBIN_LOCAL_ACCESSKEY'}`
      : (err as Error).message;
  const maxMs = Number(opts['max-seconds']) * 1000;
  const lingerMs = Number(opts['linger-seconds']) * 1000;
  if (!(maxMs > 0) || !(lingerMs >= 0)) {
    io.err('--max-seconds and --linger-seconds must be positive numbers');
    return 2;
  }

  let play: Int16Array | undefined;
  if (opts.play) {
    try {
      const wav = await readWavFile(opts.play);
      play = wav.samples;
      if (wav.sampleRateHz !== 8000) {
        const rs = await createResampler({ inputRateHz: wav.sampleRateHz, outputRateHz: 8000 });
        const body = rs.process(wav.samples);
        const tail = rs.flush();
        play = new Int16Array(body.length + tail.length);
        play.set(body);
        play.set(tail, body.length);
        rs.destroy();
      }
    } catch (err) {
      io.err(`cannot read ${opts.play}: ${(err as Error).message}`);
      return 2;
    }
  }

  let as = opts.as;
  if (as === undefined) {
    try {
      as = await firstLocalNumber(baseUrl, key);
    } catch (err) {
      // Server down or key refused: say that, not the "no local number" hint below, which would
      // send the user to fix the wrong thing.
      io.err(explain(err));
      return 1;
    }
  }
  if (!as) {
    io.err('no local number to register as: create one (POST /v1.0/numbers) or pass --as');
    return 2;
  }
  const address: PhoneAddress = as.startsWith('ext:') ? { type: 'extension', target: as.slice(4) } : { type: 'tel', target: as };

  let phone: LocalPhoneClient;
  try {
    phone = await LocalPhoneClient.connect(baseUrl, key);
    await phone.register(address);
  } catch (err) {
    io.err(explain(err));
    return 1;
  }
  io.out(`registered as ${address.target}`);

  const heard: Int16Array[] = [];
  let heardSamples = 0;
  phone.on('audio', (f) => {
    if (opts.record && heardSamples < maxMs * 8) {
      heard.push(f.slice());
      heardSamples += f.length;
    }
  });

  let callId = '';
  let hangupReason = '';
  let onAnswered: () => void = () => {};
  // Every state change is taken from this one listener, so no message can slip between waits.
  const answeredOnce = new Promise<true>((resolve) => (onAnswered = () => resolve(true)));
  const ended = new Promise<void>((resolve) => {
    phone.on('message', (m: PhoneServerMessage) => {
      if (m.type === 'ringing') {
        callId = m.call_id;
        io.out(`ringing (call ${m.call_id})`);
      }
      if (m.type === 'incoming') {
        callId = m.call_id;
        io.out(`incoming call ${m.call_id} from ${m.from.target}`);
        phone.send({ type: 'answer' });
      }
      if (m.type === 'answered') {
        io.out('answered');
        onAnswered();
      }
      if (m.type === 'error') io.err(`server: ${m.message}`);
      if (m.type === 'hangup') {
        hangupReason = m.reason;
        io.out(`hangup (${m.reason})`);
        resolve();
      }
    });
    phone.on('close', () => resolve());
  });

  if (opts.to) {
    io.out(`calling ${opts.to}`);
    phone.send({ type: 'dial', to: opts.to });
  } else {
    io.out('waiting for a call');
  }
  const giveUp = new Promise<false>((r) => setTimeout(() => r(false), maxMs).unref());
  const answered = await Promise.race([answeredOnce, ended.then(() => false as const), giveUp]);
  let pacer: Pacer<Int16Array> | undefined;
  if (answered) {
    let stopTimer: ReturnType<typeof setTimeout> | undefined;
    const hangup = () => phone.send({ type: 'hangup' });
    if (play && play.length > 0) {
      pacer = new Pacer<Int16Array>({ send: (f) => phone.sendAudio(f), frameMs: 20, leadFrames: 2, frameLength: 160 });
      for (let i = 0; i < play.length; i += 160) {
        const frame = new Int16Array(160);
        frame.set(play.subarray(i, Math.min(i + 160, play.length)));
        pacer.enqueue(frame);
      }
      pacer.once('drained', () => {
        io.out(`played ${opts.play}`);
        stopTimer = setTimeout(hangup, lingerMs);
      });
    }
    const maxTimer = setTimeout(hangup, maxMs);
    await ended;
    clearTimeout(maxTimer);
    if (stopTimer) clearTimeout(stopTimer);
  } else {
    await Promise.race([ended, new Promise((r) => setTimeout(r, 200))]);
  }
  pacer?.stop();
  phone.close();

  if (opts.record) {
    const all = new Int16Array(heardSamples);
    let at = 0;
    for (const f of heard) {
      all.set(f, at);
      at += f.length;
    }
    await writeWavFile(opts.record, all, 8000);
    io.out(`recorded ${(heardSamples / 8000).toFixed(2)} s to ${opts.record}`);
  }
  if (!answered) {
    io.err(`the call${callId ? ` ${callId}` : ''} was not answered${hangupReason ? ` (${hangupReason})` : ''}`);
    return 1;
  }
  return 0;
}

/** The account's first local number; rejects with a {@link LocalServerError} when the server cannot be used. */
async function firstLocalNumber(baseUrl: string, key: string): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/v1.0/numbers?page_size=1`, { headers: { authorization: `Bearer ${key}` } });
  } catch (err) {
    if (isUnreachableError(err)) throw new LocalServerError(baseUrl, { unreachable: true, cause: err });
    // undici's bare "fetch failed" hides the reason (a refused "bad port", TLS, ...) in `cause`.
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`cannot reach ${baseUrl}: ${cause ?? (err as Error).message}`, { cause: err });
  }
  if (!res.ok) throw new LocalServerError(baseUrl, { status: res.status, what: 'cannot list numbers' });
  const body = (await res.json()) as { result: { number: string }[] };
  return body.result[0]?.number;
}
