// One signal's records in the export thread (spans, log records). Batches are timed on the app's
// thread; here records queue only while the collector is slow or down, up to a bound past which they
// are dropped and counted, and leave one batch at a time, each batch bounded in time.
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
}

export class ExportQueue<R, T> {
  readonly #options: ExportQueueOptions<R, T>;
  readonly #queue: R[] = [];
  #full = false;
  #draining: Promise<void> | undefined;

  constructor(options: ExportQueueOptions<R, T>) {
    this.#options = options;
  }

  add(records: readonly R[], resource: Resource | undefined): void {
    const { batch, exporter, fullLine } = this.#options;
    const room = batch.maxQueueSize - this.#queue.length;
    this.#queue.push(...records.slice(0, Math.max(room, 0)));
    if (records.length > room) {
      exporter?.dropped(records.length - room);
      if (!this.#full) say(fullLine);
      this.#full = true;
    } else if (this.#queue.length < batch.maxQueueSize / 2) {
      this.#full = false;
    }
    void this.drain(resource);
  }

  /** Exports everything queued, one batch at a time; concurrent callers share the same run. */
  drain(resource: Resource | undefined): Promise<void> {
    const { batch, exporter, convert } = this.#options;
    this.#draining ??= (async () => {
      while (this.#queue.length > 0 && resource && exporter) {
        if (!(await exporter.reachable())) {
          exporter.dropped(this.#queue.length);
          this.#queue.length = 0;
          return;
        }
        const items = convert(this.#queue.splice(0, batch.maxExportBatchSize), resource);
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
}
