// `@rustok/otel/testing`: an OTLP receiver for an app's own tests, to check the telemetry it relies on.
// Nothing here is loaded by the preload.
export type { AttributesMatch, LogMatch, MetricMatch, SpanMatch, TextMatch } from './match.js';
export type { ReceivedAttributes, ReceivedLog, ReceivedMetricPoint, ReceivedSpan, SpanKindName, SpanStatusName } from './received.js';
export type { TestReceiver, TestReceiverOptions, WaitOptions } from './receiver.js';
export { startTestReceiver } from './receiver.js';
