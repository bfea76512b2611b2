export * from './audio-port.js';
export * from './flow-hooks.js';
export * from './message-log.js';
export * from './session-runner.js';
export * from './playout.js';
