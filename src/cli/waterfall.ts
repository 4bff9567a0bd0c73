// A trace as a waterfall in the terminal: one line per span, indented under its parent, with a bar
// placed and sized by its time within the trace, and the attributes that say what it was.
import type { ReceivedSpan } from '../receiver/otlp-receiver.js';

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

export interface WaterfallOptions {
  /** ANSI colours, for a terminal. */
  readonly colour: boolean;
}

export function renderTrace(spans: readonly ReceivedSpan[], { colour }: WaterfallOptions): string {
  const paint = (code: string | undefined, text: string) => (colour && code ? `\u001b[${code}m${text}\u001b[0m` : text);
  const ids = new Set(spans.map((span) => span.spanId));
  const children = (parent: string) =>
    spans
      .filter((span) => (ids.has(span.parentSpanId) ? span.parentSpanId : '') === parent)
      .sort((a, b) => Number(a.startNanos - b.startNanos));
  const start = spans.reduce((min, span) => (span.startNanos < min ? span.startNanos : min), spans[0]?.startNanos ?? 0n);
  const end = spans.reduce((max, span) => (span.endNanos > max ? span.endNanos : max), 0n);
  const total = Number(end - start) || 1;

  const rows: { label: string; span: ReceivedSpan }[] = [];
  const visit = (span: ReceivedSpan, depth: number) => {
    rows.push({ label: `${'  '.repeat(depth + 1)}${span.name}`, span });
    for (const child of children(span.spanId)) visit(child, depth + 1);
  };
  for (const root of children('')) visit(root, 0);

  const labelWidth = Math.min(Math.max(...rows.map((row) => row.label.length)), 60);
  const lines = rows.map(({ label, span }) => {
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
  const service = spans[0]?.resource['service.name'] ?? 'unknown service';
  const count = `${spans.length} span${spans.length === 1 ? '' : 's'}`;
  const header = `trace ${spans[0]?.traceId}  ${service}  ${count}  ${(total / 1e6).toFixed(1)} ms`;
  return `${paint(COLOURS.dim, header)}\n${lines.join('\n')}`;
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

/**
 * Groups spans into traces as they arrive and hands over each trace once no span of it has come for
 * `quietMillis` (spans of one request usually arrive in one batch, but not always), oldest first.
 */
export class TraceAssembler {
  private readonly pending = new Map<string, { spans: ReceivedSpan[]; lastSeen: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly onTrace: (spans: readonly ReceivedSpan[]) => void;
  private readonly quietMillis: number;

  constructor(onTrace: (spans: readonly ReceivedSpan[]) => void, quietMillis = 300) {
    this.onTrace = onTrace;
    this.quietMillis = quietMillis;
    this.timer = setInterval(() => this.emit(Date.now() - this.quietMillis), Math.min(100, quietMillis)).unref();
  }

  add(batch: readonly ReceivedSpan[]): void {
    const now = Date.now();
    for (const span of batch) {
      const trace = this.pending.get(span.traceId) ?? { spans: [], lastSeen: now };
      trace.spans.push(span);
      trace.lastSeen = now;
      this.pending.set(span.traceId, trace);
    }
  }

  /** Hands over every trace still waiting, and stops. */
  close(): void {
    clearInterval(this.timer);
    this.emit(Number.POSITIVE_INFINITY);
  }

  private emit(seenBefore: number): void {
    const done = [...this.pending].filter(([, trace]) => trace.lastSeen <= seenBefore);
    const start = (spans: readonly ReceivedSpan[]) =>
      spans.reduce((min, span) => (span.startNanos < min ? span.startNanos : min), spans[0]?.startNanos ?? 0n);
    done.sort(([, a], [, b]) => Number(start(a.spans) - start(b.spans)));
    for (const [traceId, trace] of done) {
      this.pending.delete(traceId);
      this.onTrace(trace.spans);
    }
  }
}
