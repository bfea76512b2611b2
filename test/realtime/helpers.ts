import { encodeMulaw } from '../../streams/audio/g711.js';
import { tone } from '../flows/helpers.js';

/** `ms` of a `freqHz` tone as pcmu chunks of 20 ms (what the realtime fake streams as output_audio deltas). */
export function pcmuTone(ms: number, freqHz: number): Buffer[] {
  const pcm = tone(ms * 8, freqHz, 8000);
  const mu = new Uint8Array(pcm.length);
  encodeMulaw(pcm, mu);
  const out: Buffer[] = [];
  for (let i = 0; i < mu.length; i += 160) out.push(Buffer.from(mu.subarray(i, i + 160)));
  return out;
}
