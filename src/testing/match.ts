// What a test waits for, and, when it does not come, why each span, point or record that did arrive
// is not it: a failing test should say what to fix without a debugger.
import { inspect, isDeepStrictEqual } from 'node:util';
import {
  type ReceivedLog,
  type ReceivedMetricPoint,
  type ReceivedSpan,
  SPAN_KINDS,
  SPAN_STATUSES,
  type SpanKindName,
  type SpanStatusName,
} from './received.js';

/** A string must be equal; a RegExp must match. */
export type TextMatch = string | RegExp;

/**
 * Attributes that must be there with these values; others may be there too. Values are compared with
 * deep equality (arrays item by item), a RegExp matches a string value, and `undefined` requires the
 * attribute to be absent.
 */
export type AttributesMatch = Readonly<Record<string, unknown>>;

/** Which spans to wait for: every field given must hold. */
export interface SpanMatch {
  readonly name?: TextMatch;
  readonly kind?: SpanKindName;
  readonly status?: SpanStatusName;
  readonly attributes?: AttributesMatch;
  /** The resource's `service.name`: which process sent it. */
  readonly service?: TextMatch;
  readonly traceId?: string;
  /** The parent's `spanId`; `''` for a root span. */
  readonly parentSpanId?: string;
  /** Anything the fields above cannot say; the span matches only when this returns true. */
  readonly where?: (span: ReceivedSpan) => boolean;
}

/** Which metric data points to wait for: every field given must hold. */
export interface MetricMatch {
  /** The metric's name. */
  readonly name?: TextMatch;
  /** The data point's attributes. */
  readonly attributes?: AttributesMatch;
  readonly service?: TextMatch;
  /** Anything else, such as a histogram's `count`; the point matches only when this returns true. */
  readonly where?: (point: ReceivedMetricPoint) => boolean;
}

/** Which log records to wait for: every field given must hold. */
export interface LogMatch {
  /** Matches a string body only; use `where` for others. */
  readonly body?: TextMatch;
  readonly severityText?: TextMatch;
  readonly severityNumber?: number;
  readonly attributes?: AttributesMatch;
  readonly service?: TextMatch;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly where?: (log: ReceivedLog) => boolean;
}

/** What the receiver needs to know of one signal to match it and to explain a miss. */
export interface Signal<T, M> {
  /** `spans`, `metrics`, `logs`: the receiver's method. */
  readonly method: string;
  readonly one: string;
  readonly many: string;
  /** The field a test names what it waits for by; the items that differ there are only listed. */
  readonly key: keyof M & keyof T;
  readonly fields: readonly (keyof M)[];
  /** Why `item` does not match on the fields other than `key`; undefined when it does. */
  mismatch(item: T, match: M): string | undefined;
  /** The item in a few words, its key first. */
  label(item: T): string;
}

export const show = (value: unknown) => inspect(value, { breakLength: Number.POSITIVE_INFINITY, depth: 4 });

function text(field: string, actual: unknown, expected: TextMatch | undefined): string | undefined {
  if (expected === undefined) return undefined;
  if (typeof expected === 'string') return actual === expected ? undefined : `${field} is ${show(actual)}, not ${show(expected)}`;
  // search() ignores a /g flag's lastIndex: the same RegExp gives the same answer on every item.
  return typeof actual === 'string' && actual.search(expected) !== -1 ? undefined : `${field} ${show(actual)} does not match ${expected}`;
}

function equal(field: string, actual: unknown, expected: unknown): string | undefined {
  return expected === undefined || isDeepStrictEqual(actual, expected) ? undefined : `${field} is ${show(actual)}, not ${show(expected)}`;
}

function attributes(field: string, actual: Readonly<Record<string, unknown>>, expected: AttributesMatch | undefined): string | undefined {
  for (const [key, wanted] of Object.entries(expected ?? {})) {
    const name = `${field}[${show(key)}]`;
    // Own keys only: `constructor` or `toString` is absent from a span that lacks it, whatever Object has.
    const value = Object.hasOwn(actual, key) ? actual[key] : undefined;
    if (wanted instanceof RegExp) {
      const reason = text(name, value, wanted);
      if (reason) return reason;
    } else if (!isDeepStrictEqual(value, wanted)) {
      const got = Object.hasOwn(actual, key) ? `is ${show(value)}` : 'is absent';
      return `${name} ${got}, not ${wanted === undefined ? 'absent' : show(wanted)}`;
    }
  }
  return undefined;
}

const where = <T>(item: T, test: ((item: T) => boolean) | undefined) => (test && !test(item) ? 'where() returned false' : undefined);

const service = (resource: Readonly<Record<string, unknown>>, expected: TextMatch | undefined) =>
  text("resource['service.name']", resource['service.name'], expected);

export const SPANS: Signal<ReceivedSpan, SpanMatch> = {
  method: 'spans',
  one: 'span',
  many: 'spans',
  key: 'name',
  fields: ['name', 'kind', 'status', 'attributes', 'service', 'traceId', 'parentSpanId', 'where'],
  mismatch: (span, match) =>
    equal('kind', span.kind, match.kind) ??
    equal('status', span.status.code, match.status) ??
    service(span.resource, match.service) ??
    equal('traceId', span.traceId, match.traceId) ??
    equal('parentSpanId', span.parentSpanId, match.parentSpanId) ??
    attributes('attributes', span.attributes, match.attributes) ??
    where(span, match.where),
  label: (span) => `${show(span.name)} (${span.kind})`,
};

export const METRICS: Signal<ReceivedMetricPoint, MetricMatch> = {
  method: 'metrics',
  one: 'metric data point',
  many: 'metric data points',
  key: 'name',
  fields: ['name', 'attributes', 'service', 'where'],
  mismatch: (point, match) =>
    service(point.resource, match.service) ?? attributes('attributes', point.attributes, match.attributes) ?? where(point, match.where),
  label: (point) => `${show(point.name)} (${point.type})`,
};

export const LOGS: Signal<ReceivedLog, LogMatch> = {
  method: 'logs',
  one: 'log record',
  many: 'log records',
  key: 'body',
  fields: ['body', 'severityText', 'severityNumber', 'attributes', 'service', 'traceId', 'spanId', 'where'],
  mismatch: (log, match) =>
    text('severityText', log.severityText, match.severityText) ??
    equal('severityNumber', log.severityNumber, match.severityNumber) ??
    service(log.resource, match.service) ??
    equal('traceId', log.traceId, match.traceId) ??
    equal('spanId', log.spanId, match.spanId) ??
    attributes('attributes', log.attributes, match.attributes) ??
    where(log, match.where),
  label: (log) => {
    const body = typeof log.body === 'string' ? log.body : show(log.body);
    return `${show(body.length > 60 ? `${body.slice(0, 59)}…` : body)} (${log.severityText || log.severityNumber})`;
  },
};

/** Why `item` does not match, or undefined when it does. */
export function mismatch<T, M>(signal: Signal<T, M>, item: T, match: M): string | undefined {
  return text(String(signal.key), item[signal.key], match[signal.key] as TextMatch | undefined) ?? signal.mismatch(item, match);
}

/**
 * Throws for a match no item could meet for a reason the types would have caught: a misspelt field
 * (`attribute:`) would otherwise match everything, and a test that cannot fail is worse than none.
 */
export function checkMatch<T, M extends object>(signal: Signal<T, M>, match: M): void {
  const wrong = (what: string) => new TypeError(`receiver.${signal.method}(): ${what}`);
  for (const field of Object.keys(match)) {
    if (!(signal.fields as readonly string[]).includes(field))
      throw wrong(`unknown field ${show(field)}; one of ${signal.fields.join(', ')}`);
  }
  const { kind, status } = match as SpanMatch;
  if (kind !== undefined && !SPAN_KINDS.includes(kind)) throw wrong(`kind ${show(kind)} is not one of ${SPAN_KINDS.join(', ')}`);
  if (status !== undefined && !SPAN_STATUSES.includes(status))
    throw wrong(`status ${show(status)} is not one of ${SPAN_STATUSES.join(', ')}`);
}

/** Items described by their label and why they missed, one line per distinct pair, in order of arrival. */
function grouped<T>(items: readonly T[], line: (item: T) => string, limit: number): string[] {
  const counts = new Map<string, number>();
  for (const item of items) {
    const key = line(item);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const lines = [...counts].map(([key, count]) => `${count} × ${key}`);
  return lines.length > limit ? [...lines.slice(0, limit), `… and ${lines.length - limit} more`] : lines;
}

/**
 * The rejection of a wait that timed out: what was expected, and what arrived instead. Items that
 * differ in their name (or body) are only listed; the others each say the first field that differs.
 */
export function notArrived<T, M>(signal: Signal<T, M>, match: M, count: number, timeoutMs: number, received: readonly T[]): string {
  const expected = `receiver.${signal.method}(): expected at least ${count} ${count === 1 ? signal.one : signal.many} matching ${show(match)} within ${timeoutMs} ms`;
  if (received.length === 0) {
    return `${expected}, but no ${signal.many} arrived. Was the process under test started with --import @rustok/otel/register and the variables of receiver.env()?`;
  }
  const matched = received.filter((item) => mismatch(signal, item, match) === undefined).length;
  const key = String(signal.key);
  const keyMissed = (item: T) => text(key, item[signal.key], match[signal.key] as TextMatch | undefined) !== undefined;
  const near = received.filter((item) => !keyMissed(item));
  const others = received.filter(keyMissed);
  const lines = [`${expected}, but ${matched === 0 ? 'none' : matched} of the ${received.length} received matched.`];
  if (near.length > 0) {
    lines.push(
      match[signal.key] === undefined ? 'Received:' : `With that ${key}:`,
      ...grouped(near, (item) => `${signal.label(item)}: ${signal.mismatch(item, match) ?? 'matches'}`, 20).map((line) => `  ${line}`),
    );
  }
  if (others.length > 0) lines.push(`Other ${key === 'name' ? 'names' : 'bodies'}: ${grouped(others, signal.label, 30).join(', ')}`);
  return lines.join('\n');
}
