/**
 * `voipbin-ai call`, the command-line softphone: in-process (one instance answering and
 * recording, one calling and playing a 16 kHz WAV, so the resampler path runs), and as a real
 * spawned process (`node --import tsx src/cli.ts call`) recording what a media_stream client
 * injected into its call: a new user's path from `serve` to hearing audio in a WAV.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { runCallCommand } from '../../src/softphone/call-command.js';
import type { CallCommandIo } from '../../src/softphone/call-command.js';
import { readWavFile, writeWavFile } from '../../streams/audio/wav.js';
import { FRAME, addNumbers, audible, dominantFrequency, framesOf, goertzel, mediaStream, rms, tone, until } from './helpers.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ANSWERER = '+15550500001';
const CALLER = '+15550500002';
const SPAWNED = '+15550500003';
const NOPHONE = '+15550500009';

function io(): CallCommandIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { env: {}, lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

/** Indices of the 20 ms frames of `x` whose `freqHz` component is above `minAmplitude`. */
function framesWithTone(x: Int16Array, freqHz: number, minAmplitude: number): number[] {
  const out: number[] = [];
  for (let f = 0; f + FRAME <= x.length; f += FRAME) if (goertzel(x, freqHz, 8000, f, f + FRAME) > minAmplitude) out.push(f / FRAME);
  return out;
}

describe('voipbin-ai call', () => {
  let s: TestServer;
  const t = tempDir();
  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    await addNumbers(s, [ANSWERER, CALLER, SPAWNED, NOPHONE]);
  });
  afterAll(async () => {
    await s.close();
    t.cleanup();
  });

  it('in process: one answers and records, the other calls and plays a 16 kHz WAV; the recording holds the 440 Hz tone', async () => {
    const wav = join(t.dir, 'tone-16k.wav');
    const rec = join(t.dir, 'answerer.wav');
    await writeWavFile(wav, tone(32000, 440, 8000, 16000), 16000);
    const common = ['--key', s.key, '--url', s.url, '--max-seconds', '20'];

    const answererIo = io();
    const answering = runCallCommand(['--as', ANSWERER, '--record', rec, ...common], answererIo);
    await until(() => answererIo.lines.includes('waiting for a call'), 'the answerer to register');
    expect(answererIo.lines[0]).toBe(`registered as ${ANSWERER}`);

    const callerIo = io();
    const calling = runCallCommand(['--to', ANSWERER, '--as', CALLER, '--play', wav, '--linger-seconds', '0.3', ...common], callerIo);
    const [answererCode, callerCode] = await Promise.all([answering, calling]);
    expect({ answererCode, callerCode, answererErr: answererIo.errors, callerErr: callerIo.errors }).toEqual({
      answererCode: 0,
      callerCode: 0,
      answererErr: [],
      callerErr: [],
    });
    // The order each side saw.
    const order = (lines: string[], want: RegExp[]) => want.map((re) => lines.findIndex((l) => re.test(l)));
    const a = order(answererIo.lines, [/^incoming call .* from \+15550500002$/, /^answered$/, /^hangup \(normal\)$/, /^recorded .* s to /]);
    expect(a.every((i) => i >= 0)).toBe(true);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    const c = order(callerIo.lines, [/^calling \+15550500001$/, /^ringing \(call /, /^answered$/, /^played /, /^hangup \(normal\)$/]);
    expect(c.every((i) => i >= 0)).toBe(true);
    expect([...c].sort((x, y) => x - y)).toEqual(c);

    const recorded = await readWavFile(rec);
    expect(recorded.sampleRateHz).toBe(8000);
    const heard = recorded.samples;
    const toneFrames = framesWithTone(heard, 440, 4000);
    // ~2 s of tone (100 frames); the edges of the resampled tone may fall under the bar.
    expect(toneFrames.length).toBeGreaterThanOrEqual(95);
    expect(toneFrames.length).toBeLessThanOrEqual(102);
    // The caller paces its WAV in real time and the mixer plays each frame on its own clock, so
    // scheduling jitter may put a 20 ms silence frame between two tone frames: drop silence frames
    // and the tone frames join up into the continuous tone again.
    const voice = audible(framesOf(heard));
    expect(voice.length).toBeGreaterThanOrEqual(2 * 8000 - 2 * FRAME);
    expect(voice.length).toBeLessThanOrEqual(2 * 8000 + 2 * FRAME);
    expect(dominantFrequency(voice, 8000, 800, 8800)).toBe(440);
    expect(goertzel(voice, 440, 8000, 800, 8800)).toBeGreaterThan(7000);
    expect(goertzel(voice, 440, 8000, 800, 8800)).toBeLessThan(9000);
    // Energy well above silence: the tone's RMS is near 8000/sqrt(2); the line was silent before it.
    expect(rms(voice, 800, 8800)).toBeGreaterThan(5000);
    expect(rms(heard, 0, toneFrames[0]! * FRAME - FRAME)).toBeLessThan(50);
  });

  it('exit codes: 1 when the call is not answered, 2 on bad usage', async () => {
    const failed = io();
    expect(await runCallCommand(['--to', NOPHONE, '--as', CALLER, '--key', s.key, '--url', s.url, '--max-seconds', '10'], failed)).toBe(1);
    expect(failed.lines).toContain('hangup (failed)');
    expect(failed.errors.join('\n')).toMatch(/was not answered \(failed\)/);

    const noKey = io();
    expect(await runCallCommand(['--to', NOPHONE, '--url', s.url], noKey)).toBe(2);
    expect(noKey.errors.join('\n')).toMatch(/access key is needed/);
    const badFlag = io();
    expect(await runCallCommand(['--bogus'], badFlag)).toBe(2);
    const badWav = io();
    expect(await runCallCommand(['--to', NOPHONE, '--play', join(t.dir, 'missing.wav'), '--key', s.key, '--url', s.url], badWav)).toBe(2);
    const badKey = io();
    expect(await runCallCommand(['--as', CALLER, '--key', 'vbl_wrong', '--url', s.url], badKey)).toBe(1);
    expect(badKey.errors.join('\n')).toMatch(/HTTP 401/);
  });

  it(
    'spawned: `node --import tsx src/cli.ts call` answers, plays its WAV to a media_stream client and records the tone that client injected',
    async () => {
      const wav = join(t.dir, 'voice-16k.wav');
      const rec = join(t.dir, 'spawned.wav');
      await writeWavFile(wav, tone(48000, 440, 8000, 16000), 16000); // 3 s
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'call', '--as', SPAWNED, '--play', wav, '--record', rec, '--linger-seconds', '30', '--max-seconds', '60', '--key', s.key, '--url', s.url],
        { cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: process.env.TMPDIR ?? '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        await until(() => stdout.includes('waiting for a call') || child.exitCode !== null, 'the spawned softphone to register', 25_000);
        expect(stdout, stderr).toContain(`registered as ${SPAWNED}`);

        const res = await s.call('POST', '/calls', {
          source: { type: 'tel', target: CALLER },
          destinations: [{ type: 'tel', target: SPAWNED }],
          actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30000 } }],
        });
        expect(res.status).toBe(200);
        const id = res.body.calls[0].id as string;
        await until(() => s.engine.getLive(id)?.answered === true, 'the spawned softphone to answer');

        // A media_stream client injects 1 s of 1 kHz and hears the softphone's WAV.
        const ms = await mediaStream(s, id, 'audiosocket');
        ms.client.sendAudio(tone(8000, 1000, 6000));
        // The softphone plays in real time: 2 s of it heard means the 1 s injection (mixed in real
        // time from the connection on) has been sent to the softphone.
        await until(() => audible(ms.heard).length >= 2 * 8000, 'the media_stream client to hear 2 s of the WAV', 15_000);
        const fromSoftphone = audible(ms.heard);
        expect(dominantFrequency(fromSoftphone, 8000, 800, 8800)).toBe(440);
        expect(goertzel(fromSoftphone, 440, 8000, 800, 8800)).toBeGreaterThan(7000);

        expect((await s.call('POST', `/calls/${id}/hangup`)).status).toBe(200);
        expect((await ms.closed)[0]).toBe(1000);
        const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
        expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
        expect(stdout).toMatch(/incoming call [0-9a-f-]{36} from \+15550500002/);
        expect(stdout).toMatch(/hangup \(normal\)/);
        expect(stdout).toMatch(/recorded \d+\.\d\d s to /);

        const recorded = await readWavFile(rec);
        expect(recorded.sampleRateHz).toBe(8000);
        const hits = framesWithTone(recorded.samples, 1000, 4500);
        expect(hits.length).toBeGreaterThanOrEqual(48);
        expect(hits.length).toBeLessThanOrEqual(51);
        // Contiguous: the injection was played as one piece, in order.
        expect(hits.at(-1)! - hits[0]!).toBeLessThanOrEqual(51);
        const start = hits[0]! * FRAME + FRAME;
        expect(dominantFrequency(recorded.samples, 8000, start, start + 6400)).toBe(1000);
        // The softphone does not hear its own voice back.
        expect(framesWithTone(recorded.samples, 440, 1000)).toEqual([]);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
    60_000,
  );
});
