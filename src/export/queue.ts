// One signal's records in the export thread (spans, log records). Batches are timed on the app's
// thread; here records queue only while the collector is slow or down, up to a bound past which they
// are dropped and counted, and leave one batch at a time, each batch bounded in time. Where records
// vary in size (a log record can be a line or a megabyte), the queue and each batch are bounded in
// bytes too: the thread's heap is small, and collectors refuse messages over 4 MiB by default.
import type { Resource } from '@opentelemetry/resources';
import type { Config } from '../config/types.js';
import { say } from '../log.js';
import type { CollectorExporter } from './exporter.js';

export interface ExportQueueOptions<R, T> {
  readonly batch: Pick<Config['traces']['batch'], 'maxQueueSize' | 'maxExportBatchSize' | 'exportTimeoutMillis'>;
  readonly exporter: CollectorExporter<T[]> | undefined;
  /** The records as the exporter takes them, with the resource that crossed once. */
  readonly convert: (records: readonly R[], resource: Resource) => T[];
  /** Said once each time the queue overflows. */
  readonly fullLine: string;
  /** A record's size, roughly, in bytes, with the bounds it is held to; without it, records are counted only. */
  readonly bytes?: { readonly sizeOf: (record: R) => number; readonly queue: number; readonly batch: number };
}

export class ExportQueue<R, T> {
  readonly #options: ExportQueueOptions<R, T>;
  readonly #queue: { readonly record: R; readonly size: number }[] = [];
  #queuedBytes = 0;
  #full = false;
  #draining: Promise<void> | undefined;

  constructor(options: ExportQueueOptions<R, T>) {
    this.#options = options;
  }

  add(records: readonly R[], resource: Resource | undefined): void {
    const { batch, exporter, fullLine, bytes } = this.#options;
    let dropped = 0;
    for (const record of records) {
      const size = bytes ? bytes.sizeOf(record) : 0;
      if (this.#queue.length >= batch.maxQueueSize || (bytes && this.#queuedBytes + size > bytes.queue)) {
        dropped++;
        continue;
      }
      this.#queue.push({ record, size });
      this.#queuedBytes += size;
    }
    if (dropped > 0) {
      exporter?.dropped(dropped);
      if (!this.#full) say(fullLine);
      this.#full = true;
    } else if (this.#queue.length < batch.maxQueueSize / 2 && (!bytes || this.#queuedBytes < bytes.queue / 2)) {
      this.#full = false;
    }
    void this.drain(resource);
  }

  /** Exports everything queued, one batch at a time; concurrent callers share the same run. */
  drain(resource: Resource | undefined): Promise<void> {
    const { exporter, convert, batch } = this.#options;
    this.#draining ??= (async () => {
      while (this.#queue.length > 0 && resource && exporter) {
        if (!(await exporter.reachable())) {
          exporter.dropped(this.#queue.length);
          this.#queue.length = 0;
          this.#queuedBytes = 0;
          return;
        }
        const items = convert(this.#nextBatch(), resource);
        // The export timeout bounds one batch, retries included: the queue behind it moves on.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, batch.exportTimeoutMillis);
          exporter.export(items, items.length, () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    })().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  /** Resolves once what is queued now has been exported or given up on. */
  flush(resource: Resource | undefined): Promise<void> {
    return (this.#draining ?? Promise.resolve()).then(() => this.drain(resource));
  }

  /** Up to maxExportBatchSize records, and up to the batch's bytes (one record at least, whatever its size). */
  #nextBatch(): R[] {
    const { batch, bytes } = this.#options;
    let count = 0;
    let size = 0;
    for (const entry of this.#queue) {
      if (count === batch.maxExportBatchSize || (bytes && count > 0 && size + entry.size > bytes.batch)) break;
      count++;
      size += entry.size;
    }
    this.#queuedBytes -= size;
    return this.#queue.splice(0, count).map((entry) => entry.record);
  }
}
