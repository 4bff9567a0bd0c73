export type { Config, ConfigResult, LogLevel, Protocol } from './config.js';
export { parseConfig } from './config.js';
export { setAttributes, traced } from './traced.js';
