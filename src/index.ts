export type { Config, ConfigResult, LogLevel, Protocol } from './config.js';
export { parseConfig } from './config.js';
export type { EnvelopeOptions, HandlerOptions } from './envelope.js';
export { extractTraceContext, injectTraceContext, traceHandler, tracePublish } from './envelope.js';
export { setAttributes, traced, untraced } from './traced.js';
