// What an app imports: manual spans and trace context through its own events. The configuration is
// not part of it (`rustok-otel doctor --json` shows what the preload would use), so that its shape can
// change without breaking anyone.
export type { EnvelopeOptions, HandlerOptions } from './api/envelope.js';
export { extractTraceContext, injectTraceContext, traceHandler, tracePublish } from './api/envelope.js';
export { setAttributes, traced, untraced } from './api/traced.js';
