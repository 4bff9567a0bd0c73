// The span processor on the app's thread does as little as it can: an ended span becomes a plain
// record, and records go to the export thread in batches. The thread starts with the first ended
// span, not with the app, so it never competes with the app's own start-up. The processor also knows
// which spans are still open, so that a crash can end the interrupted ones with the error on them.
import type { Span as ApiSpan, Context, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config/types.js';
import { type SpanRecord, toRecord } from '../export/span-record.js';
import type { ExportThread } from '../export/thread.js';

const SAMPLED = 1;
/**
 * Open spans are remembered up to this many, oldest forgotten first: a span that is never ended (an
 * abandoned stream, an instrumentation bug) must not be kept alive by us for ever.
 */
const MAX_OPEN = 4096;
/** The last spans that recorded an exception, by its stack: a crash is often an error an instrumentation recorded and rethrew. */
const MAX_ERRORED = 32;

export class ThreadSpanProcessor implements SpanProcessor {
  private readonly startThread: () => ExportThread;
  private thread: ExportThread | undefined;
  private readonly batch: Config['traces']['batch'];
  private readonly timeoutMillis: number;
  private readonly open = new Set<Span>();
  private readonly errored = new Map<string, SpanContext>();
  private buffer: SpanRecord[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(startThread: () => ExportThread, batch: Config['traces']['batch'], timeoutMillis: number) {
    this.startThread = startThread;
    this.batch = batch;
    this.timeoutMillis = timeoutMillis;
  }

  onStart(span: Span, _context: Context): void {
    this.open.add(span);
    if (this.open.size > MAX_OPEN) this.open.delete(this.open.values().next().value as Span);
  }

  /** Started by the first span or metrics export: an app that never makes one never pays for the thread. */
  exportThread(): ExportThread {
    this.thread ??= this.startThread();
    return this.thread;
  }

  onEnd(span: ReadableSpan): void {
    this.open.delete(span as Span);
    for (const event of span.events) {
      const stack = event.name === 'exception' ? event.attributes?.['exception.stacktrace'] : undefined;
      if (typeof stack !== 'string') continue;
      this.errored.delete(stack);
      this.errored.set(stack, span.spanContext());
      if (this.errored.size > MAX_ERRORED) this.errored.delete(this.errored.keys().next().value as string);
    }
    if ((span.spanContext().traceFlags & SAMPLED) === 0) return;
    this.exportThread();
    this.buffer.push(toRecord(span));
    if (this.buffer.length >= this.batch.maxExportBatchSize) this.handOver();
    else this.timer ??= setTimeout(() => this.handOver(), this.batch.scheduledDelayMillis).unref();
  }

  /**
   * The span that recorded `error` as an exception, if one did lately: the request an error came from
   * once the error has left it (an instrumentation records it, ends its span and throws it on).
   */
  spanThatRecorded(error: unknown): SpanContext | undefined {
    const stack = (error as { stack?: unknown } | null)?.stack;
    return typeof stack === 'string' ? this.errored.get(stack) : undefined;
  }

  /** The open span that `span` is a child of, if it is still open. */
  openParent(span: ApiSpan): ApiSpan | undefined {
    const parentId = (span as unknown as ReadableSpan).parentSpanContext?.spanId;
    for (const candidate of this.open) if (candidate.spanContext().spanId === parentId) return candidate;
    return undefined;
  }

  forceFlush(timeoutMillis = this.timeoutMillis): Promise<void> {
    this.handOver();
    return this.thread?.flush(timeoutMillis) ?? Promise.resolve();
  }

  flushSync(timeoutMillis = this.timeoutMillis): void {
    this.handOver();
    this.thread?.flushSync(timeoutMillis);
  }

  shutdown(): Promise<void> {
    return this.forceFlush();
  }

  private handOver(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0 || !this.thread) return;
    this.thread.send(this.buffer);
    this.buffer = [];
  }
}
