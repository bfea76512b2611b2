/** Voice activity detection and the echo gate of the built-in voice pipeline. */
export {
  DEFAULT_GATE_FLOOR_DBFS,
  DEFAULT_PRE_ROLL_MS,
  DEFAULT_VAD_CONFIG,
  MAX_VAD_SECS,
  VoiceActivityDetector,
  vadConfigFrom,
} from './detector.js';
export type { SpeechEndEvent, SpeechStartEvent, VadConfig, VadState, VoiceActivityDetectorOptions } from './detector.js';
export { EchoGate } from './echo-gate.js';
export type { EchoGateOptions } from './echo-gate.js';
export {
  SILERO_CONTEXT_SAMPLES,
  SILERO_RATE_HZ,
  SILERO_WINDOW_MS,
  SILERO_WINDOW_SAMPLES,
  SileroStream,
  loadSileroModel,
} from './silero.js';
export type { SileroModel, SileroStreamOptions, WindowListener } from './silero.js';
export {
  INT16_FULL_SCALE_DB,
  VOLUME_MAX_DB,
  VOLUME_MIN_DB,
  VOLUME_SMOOTHING,
  VolumeSmoother,
  dbfsFromVolume,
  frameVolume,
  rmsDbfs,
  volumeFromDbfs,
} from './volume.js';
