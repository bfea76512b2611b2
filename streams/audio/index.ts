/**
 * The pure audio core of the media-stream gateway: G.711 codecs, L16 byte helpers, WAV files,
 * stateful resampling, 20 ms re-framing and real-time pacing. See DESIGN.md "Audio rules".
 */
export * from './g711.js';
export * from './l16.js';
export * from './wav.js';
export * from './resampler.js';
export * from './framer.js';
export * from './pacer.js';
