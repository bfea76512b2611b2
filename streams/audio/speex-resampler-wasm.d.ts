/**
 * Types for `@echogarden/speex-resampler-wasm`, which ships none. It is an Emscripten build of
 * SpeexDSP's resampler: the default export instantiates the WASM module; functions take and return
 * raw pointers into the module's linear memory. Only the parts this project uses are declared.
 */
declare module '@echogarden/speex-resampler-wasm' {
  export interface SpeexResamplerModule {
    /** Views over the WASM linear memory; replaced (and the old ones detached) when memory grows. */
    HEAP16: Int16Array;
    HEAPU8: Uint8Array;
    HEAPU32: Uint32Array;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
    _speex_resampler_destroy(st: number): void;
    _speex_resampler_process_int(st: number, channel: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
    _speex_resampler_get_input_latency(st: number): number;
    _speex_resampler_get_output_latency(st: number): number;
    _speex_resampler_reset_mem(st: number): number;
    _speex_resampler_strerror(code: number): number;
  }
  const createModule: (moduleArg?: object) => Promise<SpeexResamplerModule>;
  export default createModule;
}

declare module '@echogarden/speex-resampler-wasm/simd' {
  import createModule from '@echogarden/speex-resampler-wasm';
  export default createModule;
}
