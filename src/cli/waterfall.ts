// A trace as a waterfall in the terminal: one line per span, indented under its parent, with a bar
// placed and sized by its time within the trace, and the attributes that say what it was. The log
// records of the trace go under the span that was active when they were written, by time among its children.
import type { ReceivedLog, ReceivedSpan } from '../receiver/otlp-receiver.js';

const KINDS = ['', 'internal', 'server', 'client', 'producer', 'consumer'];
const BAR_WIDTH = 24;
const COLOURS: Record<string, string> = {
  server: '34',
  client: '36',
  producer: '35',
  consumer: '35',
  internal: '90',
  error: '31',
  dim: '2',
};
const SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
/** By severity range (TRACE … FATAL): grey, grey, green, yellow, red, bold red. */
const SEVERITY_COLOURS = ['90', '90', '32', '33', '31', '1;31'];
/** The most of a log record's body one line shows. */
const BODY_WIDTH = 120;

export interface WaterfallOptions {
  /** ANSI colours, for a terminal. */
  readonly colour: boolean;
}

/**
 * `logs` are the trace's log records: each goes under its span (by `spanId`), placed by time among the
 * span's children; those whose span is not in `spans` go at the end. A trace without logs renders as it always has.
 */
export function renderTrace(spans: readonly ReceivedSpan[], { colour }: WaterfallOptions, logs: readonly ReceivedLog[] = []): string {
  const paint = (code: string | undefined, text: string) => (colour && code ? `\u001b[${code}m${text}\u001b[0m` : text);
  const ids = new Set(spans.map((span) => span.spanId));
  const children = (parent: string) =>
    spans
      .filter((span) => (ids.has(span.parentSpanId) ? span.parentSpanId : '') === parent)
      .sort((a, b) => Number(a.startNanos - b.startNanos));
  const start = traceStart(spans, logs);
  const end = spans.reduce((max, span) => (span.endNanos > max ? span.endNanos : max), 0n);
  const total = Number(end - start) || 1;

  // The log records of each span in the trace, by time; '' for those of no span in it.
  const logsOf = new Map<string, ReceivedLog[]>();
  for (const log of [...logs].sort((a, b) => Number(logTime(a) - logTime(b)))) {
    const spanId = ids.has(log.spanId) ? log.spanId : '';
    const list = logsOf.get(spanId) ?? [];
    list.push(log);
    logsOf.set(spanId, list);
  }
  const rows: ({ label: string; span: ReceivedSpan } | { indent: string; log: ReceivedLog })[] = [];
  const visit = (span: ReceivedSpan, depth: number) => {
    rows.push({ label: `${'  '.repeat(depth + 1)}${span.name}`, span });
    const own = logsOf.get(span.spanId) ?? [];
    for (const child of children(span.spanId)) {
      // A record written when a child started was most likely written before it.
      while (own.length > 0 && logTime(own[0] as ReceivedLog) <= child.startNanos) {
        rows.push({ indent: '  '.repeat(depth + 2), log: own.shift() as ReceivedLog });
      }
      visit(child, depth + 1);
    }
    for (const log of own) rows.push({ indent: '  '.repeat(depth + 2), log });
  };
  for (const root of children('')) visit(root, 0);
  for (const log of logsOf.get('') ?? []) rows.push({ indent: '  ', log });

  const spanRows = rows.filter((row) => 'span' in row);
  const labelWidth = Math.min(Math.max(...spanRows.map((row) => row.label.length)), 60);
  const lines = rows.map((row) => {
    if ('log' in row) {
      const nanos = Number(logTime(row.log) - start);
      const offset = `${nanos < 0 ? '-' : '+'}${(Math.abs(nanos) / 1e6).toFixed(1)} ms`;
      return [`${row.indent}· ${offset}`, severity(row.log, paint), logLine(row.log)].filter(Boolean).join('  ').trimEnd();
    }
    const { label, span } = row;
    const kind = KINDS[span.kind] ?? String(span.kind);
    const offset = Math.min(BAR_WIDTH - 1, Math.floor((Number(span.startNanos - start) / total) * BAR_WIDTH));
    const length = Math.max(1, Math.min(BAR_WIDTH - offset, Math.round((Number(span.endNanos - span.startNanos) / total) * BAR_WIDTH)));
    const failed = span.status.code === 2;
    const bar = `${' '.repeat(offset)}${paint(failed ? COLOURS.error : COLOURS[kind], '█'.repeat(length))}${' '.repeat(BAR_WIDTH - offset - length)}`;
    const ms = `${(Number(span.endNanos - span.startNanos) / 1e6).toFixed(1)} ms`.padStart(10);
    const error = failed ? paint(COLOURS.error, `ERROR ${span.status.message}`.trimEnd()) : '';
    const name = label.length > labelWidth ? `${label.slice(0, labelWidth - 1)}…` : label.padEnd(labelWidth);
    return [`${name}  ${kind.padEnd(8)} ${bar} ${ms}`, describe(span), error].filter(Boolean).join('  ').trimEnd();
  });
  const service = spans[0]?.resource['service.name'] ?? logs[0]?.resource['service.name'] ?? 'unknown service';
  const count = `${spans.length} span${spans.length === 1 ? '' : 's'}`;
  const logCount = logs.length === 0 ? '' : `  ${logs.length} log${logs.length === 1 ? '' : 's'}`;
  const header =
    spans.length === 0 && logs.length > 0
      ? `trace ${logs[0]?.traceId}  ${service}  no spans${logCount}`
      : `trace ${spans[0]?.traceId}  ${service}  ${count}  ${(total / 1e6).toFixed(1)} ms${logCount}`;
  return `${paint(COLOURS.dim, header)}\n${lines.join('\n')}`;
}

/**
 * A log record on a line of its own, for one in no trace, or one that came after its trace was printed
 * (then its trace ID follows): `log  INFO  orders  payment declined  (trace 4bf9…)`.
 */
export function renderLog(log: ReceivedLog, { colour }: WaterfallOptions): string {
  const paint = (code: string | undefined, text: string) => (colour && code ? `\u001b[${code}m${text}\u001b[0m` : text);
  const service = String(log.resource['service.name'] ?? 'unknown service');
  return [paint(COLOURS.dim, 'log'), severity(log, paint), service, logLine(log), log.traceId && `(trace ${log.traceId})`]
    .filter(Boolean)
    .join('  ')
    .trimEnd();
}

/** When a log record happened: its own time, else when it was observed (OTLP allows either to be 0). */
export function logTime(log: ReceivedLog): bigint {
  return log.timeNanos || log.observedNanos;
}

/** The earliest span start, or for a trace with only log records so far, the earliest of those. */
function traceStart(spans: readonly ReceivedSpan[], logs: readonly ReceivedLog[]): bigint {
  if (spans.length === 0 && logs.length > 0)
    return logs.reduce((min, log) => (logTime(log) < min ? logTime(log) : min), logTime(logs[0] as ReceivedLog));
  return spans.reduce((min, span) => (span.startNanos < min ? span.startNanos : min), spans[0]?.startNanos ?? 0n);
}

/** The severity text, else the short name of its number (`INFO`, `INFO2` …), coloured by its number, or by its text when it has none. */
function severity(log: ReceivedLog, paint: (code: string | undefined, text: string) => string): string {
  const byText = SEVERITIES.findIndex((name) => log.severityText.toUpperCase().startsWith(name.slice(0, 4)));
  const range = log.severityNumber >= 1 && log.severityNumber <= 24 ? Math.floor((log.severityNumber - 1) / 4) : byText;
  const step = (log.severityNumber - 1) % 4;
  const text = log.severityText || (range < 0 || log.severityNumber < 1 ? '' : `${SEVERITIES[range]}${step > 0 ? step + 1 : ''}`);
  return text && paint(SEVERITY_COLOURS[range], oneLine(text, 20));
}

/** The body on one line (a map or a list as JSON, bytes by their count), else the event name. */
function logLine(log: ReceivedLog): string {
  const { body } = log;
  const text =
    body === undefined || body === null
      ? ''
      : typeof body === 'string'
        ? body
        : Buffer.isBuffer(body)
          ? `<${body.length} bytes>`
          : typeof body === 'object'
            ? JSON.stringify(jsonValue(body))
            : String(body);
  return oneLine(text || log.eventName, BODY_WIDTH);
}

/** A decoded OTLP value as JSON can carry it: bytes as base64. */
export function jsonValue(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(jsonValue);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, jsonValue(entry)]));
  }
  return value;
}

/** The few attributes that say what a span did. */
function describe(span: ReceivedSpan): string {
  const a = span.attributes;
  const parts: string[] = [];
  const status = a['http.response.status_code'];
  if (status !== undefined) parts.push(String(status));
  const route = a['http.route'];
  if (route !== undefined && !span.name.includes(String(route))) parts.push(String(route));
  else if (route === undefined && a['url.path'] !== undefined) parts.push(String(a['url.path']));
  else if (route === undefined && a['url.full'] !== undefined) parts.push(oneLine(String(a['url.full']), 60));
  const statement = a['db.query.text'] ?? a['db.statement'];
  if (statement !== undefined) parts.push(oneLine(String(statement), 60));
  const destination = a['messaging.destination.name'];
  if (destination !== undefined && !span.name.includes(String(destination))) parts.push(`→ ${destination}`);
  return parts.join(' ');
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export interface AssemblerOptions {
  /** How long a trace waits after the last of its spans or log records arrived: 300 ms by default. */
  readonly quietMillis?: number;
  /**
   * How long a trace with log records but no spans yet waits: 6 s by default, the default span batch
   * delay (OTEL_BSP_SCHEDULE_DELAY, 5 s) and a second, as log records are sent sooner than spans.
   */
  readonly logsOnlyQuietMillis?: number;
  /** Log records of no trace, as they arrive, and those that arrive after their trace was handed over. */
  readonly onLog?: (log: ReceivedLog) => void;
}

/**
 * Groups spans and log records into traces as they arrive and hands over each trace once nothing of it
 * has come for a while (spans of one request usually arrive in one batch, but not always), oldest first.
 */
export class TraceAssembler {
  private readonly pending = new Map<string, { spans: ReceivedSpan[]; logs: ReceivedLog[]; lastSeen: number }>();
  /** The traces handed over lately: a log record of one of them is late, and goes to onLog. */
  private readonly handedOver = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly onTrace: (spans: readonly ReceivedSpan[], logs: readonly ReceivedLog[]) => void;
  private readonly onLog: (log: ReceivedLog) => void;
  private readonly quietMillis: number;
  private readonly logsOnlyQuietMillis: number;

  constructor(onTrace: (spans: readonly ReceivedSpan[], logs: readonly ReceivedLog[]) => void, options: AssemblerOptions = {}) {
    this.onTrace = onTrace;
    this.onLog = options.onLog ?? (() => {});
    this.quietMillis = options.quietMillis ?? 300;
    this.logsOnlyQuietMillis = options.logsOnlyQuietMillis ?? 6000;
    this.timer = setInterval(() => this.emit(Date.now()), Math.min(100, this.quietMillis, this.logsOnlyQuietMillis)).unref();
  }

  add(batch: readonly ReceivedSpan[]): void {
    const now = Date.now();
    for (const span of batch) this.trace(span.traceId, now).spans.push(span);
  }

  addLogs(batch: readonly ReceivedLog[]): void {
    const now = Date.now();
    for (const log of batch) {
      if (log.traceId === '' || (this.handedOver.has(log.traceId) && !this.pending.has(log.traceId))) this.onLog(log);
      else this.trace(log.traceId, now).logs.push(log);
    }
  }

  /** Hands over every trace still waiting, and stops. */
  close(): void {
    clearInterval(this.timer);
    this.emit(Number.POSITIVE_INFINITY);
  }

  private trace(traceId: string, now: number) {
    const trace = this.pending.get(traceId) ?? { spans: [], logs: [], lastSeen: now };
    trace.lastSeen = now;
    this.pending.set(traceId, trace);
    return trace;
  }

  private emit(now: number): void {
    const done = [...this.pending].filter(
      ([, trace]) => trace.lastSeen + (trace.spans.length > 0 ? this.quietMillis : this.logsOnlyQuietMillis) <= now,
    );
    done.sort(([, a], [, b]) => Number(traceStart(a.spans, a.logs) - traceStart(b.spans, b.logs)));
    for (const [traceId, trace] of done) {
      this.pending.delete(traceId);
      this.handedOver.add(traceId);
      if (this.handedOver.size > 10_000) this.handedOver.delete(this.handedOver.values().next().value as string);
      this.onTrace(
        trace.spans,
        trace.logs.sort((a, b) => Number(logTime(a) - logTime(b))),
      );
    }
  }
}
