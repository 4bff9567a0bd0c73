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
/**
 * A crash is often an error an instrumentation recorded on its span and threw on, out of the request:
 * the last spans that recorded an exception, by what it says (type, message, stack). One counts for
 * the rest of the event loop's turn it was recorded in, however long a loaded machine takes a throw
 * to the top, and for ERRORED_MILLIS after it, for a throw passed on to a later turn (an `await` in a
 * `finally`, a `setImmediate`). The same error thrown again later, outside any request, is not that
 * request's.
 */
const MAX_ERRORED = 32;
export const ERRORED_MILLIS = 100;
/**
 * The turn ends for us at the next timers phase: an unref'd timer still ends the loop's wait for I/O,
 * where an unref'd immediate would wait as long as an idle server does. Node's own, taken now: an
 * app's fake timers (sinon's, jest's) must not keep a turn from ending.
 */
const nodeSetTimeout = setTimeout;

export class ThreadSpanProcessor implements SpanProcessor {
  private readonly startThread: () => ExportThread;
  private thread: ExportThread | undefined;
  private readonly batch: Config['traces']['batch'];
  private readonly timeoutMillis: number;
  private readonly open = new Set<Span>();
  private readonly errored = new Map<string, { span: SpanContext; at: number; turn: number }>();
  /** Turns of the event loop that ended since the first error was recorded: the ones that recorded one. */
  private turn = 0;
  private turning = false;
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
    if ((span.spanContext().traceFlags & SAMPLED) === 0) return;
    // First: starting the thread takes milliseconds, which must not count against ERRORED_MILLIS.
    this.exportThread();
    for (const event of span.events) {
      if (event.name !== 'exception' || !event.attributes) continue;
      const { 'exception.type': type, 'exception.message': message, 'exception.stacktrace': stack } = event.attributes;
      const key = errorKey(type, message, stack);
      this.errored.delete(key);
      this.errored.set(key, { span: span.spanContext(), at: performance.now(), turn: this.turn });
      if (this.errored.size > MAX_ERRORED) this.errored.delete(this.errored.keys().next().value as string);
      if (this.turning) continue;
      this.turning = true;
      nodeSetTimeout(() => {
        this.turn++;
        this.turning = false;
      }, 0).unref();
    }
    this.buffer.push(toRecord(span));
    if (this.buffer.length >= this.batch.maxExportBatchSize) this.handOver();
    else this.timer ??= setTimeout(() => this.handOver(), this.batch.scheduledDelayMillis).unref();
  }

  /**
   * The span that recorded `error` as an exception, if one did lately: the request an error came from
   * once the error has left it (an instrumentation records it, ends its span and throws it on).
   */
  spanThatRecorded(error: unknown): SpanContext | undefined {
    let key: string;
    try {
      // As the SDK's recordException describes it: the code, else the name, for its type.
      const { code, name, message, stack } =
        typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : { message: String(error) };
      key = errorKey(code !== undefined && code !== null ? String(code) : name, message, stack);
    } catch {
      return undefined;
    }
    const found = this.errored.get(key);
    if (!found) return undefined;
    return found.turn === this.turn || performance.now() - found.at <= ERRORED_MILLIS ? found.span : undefined;
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

function errorKey(type: unknown, message: unknown, stack: unknown): string {
  return `${typeof type === 'string' ? type : ''}\u0000${typeof message === 'string' ? message : ''}\u0000${typeof stack === 'string' ? stack : ''}`;
}
