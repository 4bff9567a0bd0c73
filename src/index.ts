export type { Config, ConfigResult, LogLevel, Protocol } from './config/parse.js';
export { parseConfig } from './config/parse.js';
export type { EnvelopeOptions, HandlerOptions } from './api/envelope.js';
export { extractTraceContext, injectTraceContext, traceHandler, tracePublish } from './api/envelope.js';
export { setAttributes, traced, untraced } from './api/traced.js';
