// Log records cross to the export thread as plain data, like spans. What a logger hands over is
// whatever the app logged (bunyan's and winston's fields are the app's own objects: requests,
// class instances, functions, cycles), so it is reduced here to what OTLP can carry and a structured
// clone can copy: a value that cannot cross would otherwise throw inside the app's logging call.
import type { HrTime, SpanContext } from '@opentelemetry/api';
import type { AnyValue, AnyValueMap } from '@opentelemetry/api-logs';
import { type InstrumentationScope, millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';

/** OTLP's default limit on attributes per record; the rest are counted as dropped. */
export const MAX_ATTRIBUTES = 128;
/**
 * The longest string a record keeps (a pino line, a body, an attribute), in characters: beyond it,
 * one record could fill the export thread's heap or a collector's 4 MiB message by itself.
 */
export const MAX_RECORD_CHARS = 256 * 1024;
/** How deep nested maps and lists are kept; deeper levels become their text. */
const MAX_DEPTH = 8;

/** A record as a logging library handed it over, made plain on the app's thread. */
export interface LogRecordData {
  readonly time: HrTime;
  readonly observed: HrTime;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: AnyValue;
  readonly eventName?: string;
  readonly attributes: AnyValueMap;
  readonly droppedAttributes: number;
  /** The span that was active where the record was made, if any. */
  readonly span?: { readonly traceId: string; readonly spanId: string; readonly traceFlags: number };
  readonly scope: InstrumentationScope;
}

/**
 * A pino record as the line pino wrote, read in the export thread: parsing and converting it there
 * takes that work off the logging call. A tuple of strings and numbers, not an object: it crosses
 * between threads for a third of an object's cost, and what the logger's lines share crosses once.
 * `traceId` is empty when no span was active.
 */
export type PinoLineData = readonly [
  line: string,
  /** pino's level number: the record's own `level` field may have been reformatted. */
  level: number,
  observedMillis: number,
  traceId: string,
  spanId: string,
  traceFlags: number,
  logger: PinoLogger,
];

/** What the lines of one pino logger share. */
export interface PinoLogger {
  readonly scope: InstrumentationScope;
  readonly format: PinoFormat;
  readonly levelNames: Readonly<Record<number, string>>;
}

export interface PinoFormat {
  readonly messageKey: string;
  readonly errorKey: string;
  /** How the logger writes `time`: epoch milliseconds, epoch seconds, ISO text, or something else (then the time it was logged is used). */
  readonly time: 'ms' | 's' | 'iso' | 'other';
}

export type LogData = LogRecordData | PinoLineData;

/**
 * A value as OTLP's AnyValue, or undefined when there is nothing to keep (functions, symbols). Maps
 * and lists are copied, cycles cut; a Date becomes its ISO text, an Error its name and message, any
 * other object that is no plain map its own enumerable fields.
 */
export function toAnyValue(value: unknown, depth = 0, seen = new Set<object>()): AnyValue {
  switch (typeof value) {
    case 'string':
      return value.length > MAX_RECORD_CHARS ? value.slice(0, MAX_RECORD_CHARS) : value;
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
    case 'undefined':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (object instanceof Uint8Array) return new Uint8Array(object);
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? String(object) : object.toISOString();
  if (object instanceof Error) return `${object.name}: ${object.message}`;
  if (seen.has(object) || depth >= MAX_DEPTH) return Array.isArray(object) ? '[Array]' : '[Object]';
  seen.add(object);
  try {
    if (Array.isArray(object)) return object.map((item) => toAnyValue(item, depth + 1, seen) ?? null);
    const map: AnyValueMap = {};
    for (const [key, item] of Object.entries(object)) {
      const converted = toAnyValue(item, depth + 1, seen);
      if (converted !== undefined) map[key] = converted;
    }
    return map;
  } catch {
    // A getter that throws, a proxy that refuses: the app's object, not ours to fail on.
    return '[Object]';
  } finally {
    seen.delete(object);
  }
}

/** The attributes as OTLP can carry them, at most MAX_ATTRIBUTES, and how many were left out. */
export function toAttributes(attributes: object | undefined): { attributes: AnyValueMap; dropped: number } {
  const result: AnyValueMap = {};
  let kept = 0;
  let dropped = 0;
  if (!attributes) return { attributes: result, dropped };
  let entries: [string, unknown][];
  try {
    entries = Object.entries(attributes);
  } catch {
    return { attributes: result, dropped: 1 };
  }
  for (const [key, value] of entries) {
    const converted = toAnyValue(value);
    if (converted === undefined) continue;
    if (kept >= MAX_ATTRIBUTES) {
      dropped++;
      continue;
    }
    result[key] = converted;
    kept++;
  }
  return { attributes: result, dropped };
}

/** The `exception.*` attributes of the semantic conventions for an error, as sdk-logs sets them. */
export function exceptionAttributes(exception: unknown): AnyValueMap {
  try {
    return readException(exception);
  } catch {
    // A getter that throws: the app's error, not one for us to add to.
    return {};
  }
}

function readException(exception: unknown): AnyValueMap {
  if (typeof exception === 'string') return { 'exception.message': exception };
  if (typeof exception !== 'object' || exception === null) return {};
  const { name, type: written, message, stack, code } = exception as Record<string, unknown>;
  // `type` is how pino's error serialiser writes the name.
  const type =
    code !== undefined && code !== null
      ? String(code)
      : typeof name === 'string'
        ? name
        : typeof written === 'string'
          ? written
          : undefined;
  return {
    ...(type !== undefined ? { 'exception.type': type } : {}),
    ...(typeof message === 'string' ? { 'exception.message': message } : {}),
    ...(typeof stack === 'string' ? { 'exception.stacktrace': stack } : {}),
  };
}

/** Scopes by their identity: the OTLP serialiser groups records by the scope object, not by its value. */
export class ScopeTable {
  readonly #scopes = new Map<string, InstrumentationScope>();

  get(scope: InstrumentationScope): InstrumentationScope {
    const key = `${scope.name}\u0000${scope.version ?? ''}\u0000${scope.schemaUrl ?? ''}`;
    let found = this.#scopes.get(key);
    if (!found) {
      found = { name: scope.name, version: scope.version, schemaUrl: scope.schemaUrl };
      this.#scopes.set(key, found);
    }
    return found;
  }
}

/** Just enough of a ReadableLogRecord for the OTLP exporters, which only read it. */
export function fromLogData(data: LogData, resource: Resource, scopes: ScopeTable): ReadableLogRecord {
  if (isPinoLine(data)) return fromPinoLine(data, resource, scopes);
  const spanContext: SpanContext | undefined = data.span && { ...data.span, isRemote: false };
  return {
    hrTime: data.time,
    hrTimeObserved: data.observed,
    spanContext,
    severityNumber: data.severityNumber,
    severityText: data.severityText,
    body: data.body,
    eventName: data.eventName,
    resource,
    instrumentationScope: scopes.get(data.scope),
    attributes: data.attributes,
    droppedAttributesCount: data.droppedAttributes,
  };
}

function isPinoLine(data: LogData): data is PinoLineData {
  return Array.isArray(data);
}

/** pino's standard levels; a level between two of them takes the finer OTLP severities in between. */
const PINO_SEVERITY: Readonly<Record<number, number>> = { 10: 1, 20: 5, 30: 9, 40: 13, 50: 17, 60: 21 };

export function pinoSeverityNumber(level: number): number {
  const exact = PINO_SEVERITY[level];
  if (exact !== undefined) return exact;
  // 10 (trace) to 70 spread over TRACE2 … FATAL4: the severities no standard level takes.
  const steps = [2, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15, 16, 18, 19, 20, 22, 23, 24];
  const index = Math.floor(((level - 10) / 60) * steps.length);
  return steps[Math.min(steps.length - 1, Math.max(0, index))] as number;
}

/** Fields every pino line has that OTLP carries elsewhere (the resource, the record's own fields) or not at all. */
const PINO_FIELDS = new Set(['time', 'level', 'hostname', 'pid', 'trace_id', 'span_id', 'trace_flags', 'otel.event.name']);

/** The record a pino line says: its message the body, its other fields the attributes (parsed JSON is AnyValue already). */
export function fromPinoLine(data: PinoLineData, resource: Resource, scopes: ScopeTable): ReadableLogRecord {
  const [line, level, observedMillis, traceId, spanId, traceFlags, logger] = data;
  const { messageKey, errorKey, time: timeFormat } = logger.format;
  let fields: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    fields =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { data: parsed };
  } catch {
    fields = { [messageKey]: line.trimEnd() };
  }
  const { time } = fields;
  const millis =
    timeFormat === 'ms' && typeof time === 'number'
      ? time
      : timeFormat === 's' && typeof time === 'number'
        ? time * 1000
        : timeFormat === 'iso' && typeof time === 'string'
          ? Date.parse(time)
          : Number.NaN;
  // Built key by key rather than by deleting the fields OTLP has elsewhere: that is what the
  // serialiser reads next, and an object fields were deleted from is a slow one.
  const attributes: AnyValueMap = {};
  let kept = 0;
  let dropped = 0;
  for (const key in fields) {
    if (key === messageKey || key === errorKey || PINO_FIELDS.has(key)) continue;
    if (kept === MAX_ATTRIBUTES) dropped++;
    else {
      attributes[key] = fields[key] as AnyValue;
      kept++;
    }
  }
  if (Number.isNaN(millis) && time !== undefined) attributes.time = time as AnyValue;
  const error = fields[errorKey];
  if (error !== undefined) for (const [key, value] of Object.entries(exceptionAttributes(error))) attributes[key] ??= value;
  const eventName = fields['otel.event.name'];
  const observed = millisToHrTime(observedMillis);
  return {
    hrTime: Number.isNaN(millis) ? observed : millisToHrTime(millis),
    hrTimeObserved: observed,
    spanContext: traceId === '' ? undefined : { traceId, spanId, traceFlags, isRemote: false },
    severityNumber: pinoSeverityNumber(level),
    severityText: logger.levelNames[level],
    body: fields[messageKey] as AnyValue,
    eventName: typeof eventName === 'string' ? eventName : undefined,
    resource,
    instrumentationScope: scopes.get(logger.scope),
    attributes,
    droppedAttributesCount: dropped,
  };
}

/**
 * About how many bytes a record takes, queued or exported: its strings in UTF-8 (what a collector's
 * message limit counts; pino writes other scripts as they are, up to 3 bytes a character), and a few
 * bytes for everything else.
 */
export function logDataSize(data: LogData): number {
  return isPinoLine(data) ? Buffer.byteLength(data[0]) + 64 : 64 + valueSize(data.body) + valueSize(data.attributes);
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + valueSize(item), 8);
  if (typeof value === 'object' && value !== null) {
    let sum = 8;
    for (const [key, item] of Object.entries(value)) sum += Buffer.byteLength(key) + valueSize(item);
    return sum;
  }
  return 8;
}
