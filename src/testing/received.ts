// What a test sees of the telemetry that arrived: the receiver's decoded OTLP, with kinds and status
// codes by name and the fields a test has no use for left out, so that this shape is the one promised.
import type * as Raw from '../receiver/otlp-receiver.js';

/** A span's kind, as OpenTelemetry's API names it. */
export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** A span's status code: `unset` unless an instrumentation or the app set one (`traced()` sets `error` on a throw). */
export type SpanStatusName = 'unset' | 'ok' | 'error';

/** Decoded attribute values: a string, number, boolean, Buffer (bytes), array, or plain object (a map). */
export type ReceivedAttributes = Readonly<Record<string, unknown>>;

/** One span, as the service under test exported it. */
export interface ReceivedSpan {
  /** 32 hex digits, shared by every span of the trace. */
  readonly traceId: string;
  /** 16 hex digits. */
  readonly spanId: string;
  /** The parent's `spanId`; `''` for the root of a trace. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: SpanKindName;
  /** Nanoseconds since the epoch. */
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: ReceivedAttributes;
  /** The resource of the process that sent it: `service.name`, `service.version`, `deployment.environment.name`, host, process. */
  readonly resource: ReceivedAttributes;
  readonly status: { readonly code: SpanStatusName; readonly message: string };
  /** A recorded error is an event named `exception`, with `exception.type`, `exception.message` and `exception.stacktrace`. */
  readonly events: readonly { readonly name: string; readonly attributes: ReceivedAttributes }[];
  /** The spans this one is linked to, such as the producer of a message handled in a trace of its own. */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

/**
 * One data point of one metric in one export. Metrics are cumulative and exported periodically, so the
 * same series (a metric name and its attributes) arrives again with each export: the latest point holds
 * the totals since the process started.
 */
export interface ReceivedMetricPoint {
  /** The metric's name, such as `http.server.request.duration`. */
  readonly name: string;
  /** UCUM, such as `s` or `By`; `''` when none. */
  readonly unit: string;
  readonly type: 'histogram' | 'sum' | 'gauge';
  /** The point's attributes, such as `http.route` and `http.response.status_code`. */
  readonly attributes: ReceivedAttributes;
  /** A sum's or a gauge's value; undefined for a histogram. */
  readonly value?: number;
  /** A histogram's number of recorded values; undefined otherwise. */
  readonly count?: number;
  /** A histogram's sum of recorded values, when the exporter sent it; undefined otherwise. */
  readonly sum?: number;
  readonly resource: ReceivedAttributes;
}

/** One log record, as a logging library (pino, winston, bunyan) under the preload exported it. */
export interface ReceivedLog {
  /** `''` when the record was logged outside any trace. */
  readonly traceId: string;
  /** The span active where it was logged; `''` when none. */
  readonly spanId: string;
  /** Nanoseconds since the epoch; `0n` when the record has no time. */
  readonly timeUnixNano: bigint;
  /** OTLP's scale: 1–4 TRACE, 5–8 DEBUG, 9–12 INFO, 13–16 WARN, 17–20 ERROR, 21–24 FATAL; 0 unspecified. */
  readonly severityNumber: number;
  /** The level as the library names it (`info`, `error`); `''` when none. */
  readonly severityText: string;
  /** The message: usually a string; a number, boolean, Buffer, array or plain object when the record's body is one; undefined when absent. */
  readonly body: unknown;
  /** The record's other fields, and `exception.*` for a logged error. */
  readonly attributes: ReceivedAttributes;
  readonly resource: ReceivedAttributes;
}

// OTLP numbers kinds from 1 (0 is unspecified, which the specification lets a receiver read as internal).
const KINDS: readonly SpanKindName[] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
export const SPAN_KINDS: readonly SpanKindName[] = KINDS.slice(1);
/** In OTLP's order: the code is the index. */
export const SPAN_STATUSES: readonly SpanStatusName[] = ['unset', 'ok', 'error'];

export function toSpan(span: Raw.ReceivedSpan): ReceivedSpan {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: KINDS[span.kind] ?? 'internal',
    startTimeUnixNano: span.startNanos,
    endTimeUnixNano: span.endNanos,
    attributes: span.attributes,
    resource: span.resource,
    status: { code: SPAN_STATUSES[span.status.code] ?? 'unset', message: span.status.message },
    events: span.events,
    links: span.links,
  };
}

/** The points of one exported metric; none for the types the receiver does not decode (exponential histograms, summaries). */
export function toPoints(metric: Raw.ReceivedMetric): ReceivedMetricPoint[] {
  const { name, unit, type, resource } = metric;
  if (type === 'other') return [];
  return metric.points.map(({ attributes, value, count, sum }) =>
    type === 'histogram' ? { name, unit, type, attributes, count, sum, resource } : { name, unit, type, attributes, value, resource },
  );
}

export function toLog(log: Raw.ReceivedLog): ReceivedLog {
  return {
    traceId: log.traceId,
    spanId: log.spanId,
    timeUnixNano: log.timeNanos,
    severityNumber: log.severityNumber,
    severityText: log.severityText,
    body: log.body,
    attributes: log.attributes,
    resource: log.resource,
  };
}
