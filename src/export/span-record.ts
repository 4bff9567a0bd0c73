// Spans cross to the export thread as plain data: a ReadableSpan's methods and getters do not survive
// postMessage, and the resource, the same for every span, crosses once instead of with each of them.
import type { Attributes, HrTime, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

interface ContextRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly traceState?: string;
  readonly isRemote?: boolean;
}

export interface SpanRecord {
  readonly context: ContextRecord;
  readonly parent?: ContextRecord;
  readonly name: string;
  readonly kind: SpanKind;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: readonly { context: ContextRecord; attributes?: Attributes; droppedAttributesCount?: number }[];
  readonly events: readonly TimedEvent[];
  readonly scope: InstrumentationScope;
  readonly dropped: readonly [attributes: number, events: number, links: number];
}

function contextRecord(context: SpanContext): ContextRecord {
  const { traceId, spanId, traceFlags, traceState, isRemote } = context;
  return { traceId, spanId, traceFlags, traceState: traceState?.serialize(), isRemote };
}

function spanContext(record: ContextRecord): SpanContext {
  const { traceState } = record;
  return { ...record, traceState: traceState === undefined ? undefined : ({ serialize: () => traceState } as SpanContext['traceState']) };
}

export function toRecord(span: ReadableSpan): SpanRecord {
  return {
    context: contextRecord(span.spanContext()),
    parent: span.parentSpanContext && contextRecord(span.parentSpanContext),
    name: span.name,
    kind: span.kind,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: span.attributes,
    links: span.links.map((link) => ({ ...link, context: contextRecord(link.context) })),
    events: span.events,
    scope: span.instrumentationScope,
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
  };
}

/** Just enough of a ReadableSpan for the OTLP exporters, which only read it. */
export function fromRecord(record: SpanRecord, resource: Resource): ReadableSpan {
  const context = spanContext(record.context);
  const [seconds, nanos] = [record.endTime[0] - record.startTime[0], record.endTime[1] - record.startTime[1]];
  return {
    name: record.name,
    kind: record.kind,
    spanContext: () => context,
    parentSpanContext: record.parent && spanContext(record.parent),
    startTime: record.startTime,
    endTime: record.endTime,
    duration: nanos < 0 ? [seconds - 1, nanos + 1e9] : [seconds, nanos],
    ended: true,
    status: record.status,
    attributes: record.attributes,
    links: record.links.map((link) => ({ ...link, context: spanContext(link.context) })),
    events: [...record.events],
    resource,
    instrumentationScope: record.scope,
    droppedAttributesCount: record.dropped[0],
    droppedEventsCount: record.dropped[1],
    droppedLinksCount: record.dropped[2],
  };
}
