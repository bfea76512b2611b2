import { describe, expect, it } from 'vitest';
import { ElevenLabsStt, ProviderError } from '../../src/providers/stt/index.js';
import { concatPcm, tone } from './fake-deepgram-live.js';
import { waitFor } from './helpers.js';
import { briefStt, rejectionOf, startFakeElevenLabsStt, watchStt, writeFrames } from './fake-stt-servers.js';
import { describeSttContract, fakePerTest, LOUD } from './stt-contract.js';

const RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz

const fake = fakePerTest(startFakeElevenLabsStt);

const stt = (tuning = {}): ElevenLabsStt => new ElevenLabsStt({ apiKey: fake().apiKey, baseUrl: fake().baseUrl }, tuning);

/** Client messages of one message_type, the closing commit apart from audio. */
const chunks = (): Array<Record<string, any>> => fake().connections[0].messages as Array<Record<string, any>>;
const commits = (): Array<Record<string, any>> => chunks().filter((m) => m.commit === true);

/** Interims have estimated offsets (Scribe sends no timing for partials): compare their start only. */
const shape = (t: { text: string; isFinal: boolean; startMs: number; endMs: number }): string =>
  t.isFinal ? briefStt(t) : `I ${t.text} ${t.startMs}-`;

describeSttContract({
  name: 'elevenlabs',
  Adapter: ElevenLabsStt,
  fake,
  rate: RATE,
  brief: shape,
  handshake: {
    open: { sampleRateHz: RATE, language: 'ja-JP' },
    path: '/v1/speech-to-text/realtime',
    query: {
      model_id: 'scribe_v2_realtime',
      audio_format: 'pcm_16000',
      commit_strategy: 'vad',
      include_timestamps: 'true',
      language_code: 'ja',
    },
    headers: (key) => ({ 'xi-api-key': key }),
    more: (conn) => expect(conn.sent[0]).toMatchObject({ message_type: 'session_started' }), // open() waited for it
  },
  frames: {
    // input_audio_chunk messages of base64 PCM at the stream rate.
    rate: 8000,
    more: () => {
      const audioChunks = chunks().slice(0, -1);
      for (const m of audioChunks) {
        expect(Object.keys(m).sort()).toEqual(['audio_base_64', 'commit', 'message_type', 'sample_rate']);
        expect(m).toMatchObject({ message_type: 'input_audio_chunk', commit: false, sample_rate: 8000 });
      }
      // Loud samples not yet reported: a closing commit, answered with an empty transcript.
      expect(chunks().at(-1)).toEqual({ message_type: 'input_audio_chunk', audio_base_64: '', commit: true, sample_rate: 8000 });
    },
  },
  transcripts: {
    // Partials, then committed transcripts with word-timestamp offsets.
    expected: [
      'I first 0-',
      'F first utterance 0-500',
      'I second 500-', // a partial starts where the last final ended
      'F second utterance 1000-1500',
      'I word3 1500-', // the script ran out
      'F word3 2000-2300',
    ],
    more: (f, seen) => {
      for (const t of seen.transcripts) expect(t.endMs).toBeGreaterThanOrEqual(t.startMs);
      // The server sent both committed forms; only the timestamped one became the final.
      expect(f.connections[0].sent.filter((m) => m.message_type === 'committed_transcript')).toHaveLength(3);
      expect(commits()).toEqual([]); // only silence after the last commit: nothing to commit at the end
    },
  },
  closeFinalizes: {
    // close() commits speech still open and waits for its committed transcript.
    expected: ['I cut 0-', 'F cut short 0-400'],
    more: () => expect(commits()).toEqual([{ message_type: 'input_audio_chunk', audio_base_64: '', commit: true, sample_rate: RATE }]),
  },
  refused: { canary: 'el-CANARY-5d4c3b2a1f0e-presented', code: 'invalid_api_key', requestId: 'el-fake-req-0001', message: 'Invalid API key' },
  errorMessage: { text: 'transcription failed', match: { code: 'transcriber_error' }, contains: 'transcription failed' },
  serverClose: { code: 1008, reason: 'quota_exceeded', contains: ['1008'] },
  abort: {
    expected: ['I word1 0-'], // the partial; the final was 300 ms away
    endMessages: () => commits(), // no commit
  },
  fromEnv: { type: 'ElevenLabs', rate: 8000, audio: concatPcm(tone(8000, 0.3, LOUD), tone(8000, 0.4, 0)), settle: true, expected: ['F from the env 0-300'] },
});

describe('elevenlabs realtime STT: wire protocol', () => {
  it('maps the base URL and takes the tuning', () => {
    const p = new ElevenLabsStt({ apiKey: 'k-123456', baseUrl: 'http://127.0.0.1:9/v1/', model: 'scribe_v3_realtime' }, { vadSilenceThresholdSecs: 0.8 });
    expect(p.realtimeUrl(8000)).toBe(
      'ws://127.0.0.1:9/v1/speech-to-text/realtime?model_id=scribe_v3_realtime&audio_format=pcm_8000&commit_strategy=vad&vad_silence_threshold_secs=0.8&include_timestamps=true&language_code=en',
    );
    expect(new ElevenLabsStt({ apiKey: 'k-123456' }).realtimeUrl(16000)).toMatch(/^wss:\/\/api\.elevenlabs\.io\/v1\/speech-to-text\/realtime\?/);
    expect(() => new ElevenLabsStt({ apiKey: 'k-123456' }, { vadSilenceThresholdSecs: 0.2 })).toThrow(/vadSilenceThresholdSecs/);
  });

  it('rejects rates the API has no format for', async () => {
    await expect(stt().open({ sampleRateHz: 11025 })).rejects.toThrow(/unsupported sampleRateHz 11025/);
  });
});

describe('elevenlabs realtime STT: transcripts', () => {
  it('a committed transcript whose timestamped twin never comes is delivered after timestampWaitMs, offsets estimated', async () => {
    fake().behavior.omitTimestamps = true;
    fake().script(['no timing']);
    const stream = await stt({ timestampWaitMs: 150 }).open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, concatPcm(tone(RATE, 0.3, LOUD), tone(RATE, 0.4, 0)), FRAME);
    await waitFor(() => seen.transcripts.some((t) => t.isFinal));
    const final = seen.transcripts.find((t) => t.isFinal)!;
    // From the end of the last final (none: 0) to the audio written when it was delivered.
    expect(final).toEqual({ text: 'no timing', isFinal: true, startMs: 0, endMs: 700 });
    await stream.close();
    expect(seen.errors).toEqual([]);
  });
});

describe('elevenlabs realtime STT: failures', () => {
  it('an auth_error message after the upgrade also rejects open() with status 401', async () => {
    fake().behavior.authErrorAfterUpgrade = true;
    fake().behavior.echoKeyInErrors = true;
    const canary = 'el-CANARY-after-upgrade-99887766';
    const err = await rejectionOf(new ElevenLabsStt({ apiKey: canary, baseUrl: fake().baseUrl }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: 'elevenlabs', status: 401, code: 'auth_error' });
    expect(err.message).toContain('Invalid API key');
    expect(err.message).not.toContain(canary);
  });
});
