// The export thread. Serialising spans, log records and metrics to protobuf and talking gRPC or HTTP
// to the collector happen here, off the app's thread; and because this thread keeps running while the
// app's thread waits on it, they can still be exported from inside `process.exit()` and after a crash.
import { parentPort, workerData } from 'node:worker_threads';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ExporterOptions } from '../config/types.js';
import { hide, reason, say } from '../log.js';
import { CollectorExporter, type Signal } from './exporter.js';
import { fromLogData, type LogData, logDataSize, ScopeTable } from './log-record.js';
import { BEAT, FLUSHED, HEARTBEAT_MILLIS, STOPPED, type WorkerMessage, type WorkerSetup } from './protocol.js';
import { ExportQueue } from './queue.js';
import { fromRecord, type SpanRecord } from './span-record.js';

const setup = workerData as WorkerSetup;
hide(setup.secrets);
const state = new Int32Array(setup.state);
// A crash still runs this (the heap cap does not): the app's thread stops waiting at once.
process.on('exit', () => {
  Atomics.store(state, STOPPED, 1);
  Atomics.notify(state, FLUSHED);
});
// The first beat says the thread is up; from then on, its silence while a flush is awaited means it
// is gone. It beats only then (see beatWhileFlushing): at rest, a beat every 250 ms was ~0.7 ms of
// CPU a second, for nobody.
Atomics.add(state, BEAT, 1);
let flushesAwaited = 0;
let beating: NodeJS.Timeout | undefined;
let resource: Resource | undefined;
let metricsExporter: CollectorExporter<ResourceMetrics> | undefined;
let waitingMetrics: ResourceMetrics['scopeMetrics'] | undefined;
let metricsSending: Promise<void> | undefined;

const spans = new ExportQueue<SpanRecord, ReadableSpan>({
  batch: setup.traces.batch,
  exporter: exporterFor(setup.traces.otlp, 'spans'),
  convert: (records, resource) => records.map((record) => fromRecord(record, resource)),
  fullLine: `the export queue is full (OTEL_BSP_MAX_QUEUE_SIZE=${setup.traces.batch.maxQueueSize}); spans are dropped until it drains. Raise it, or sample less`,
});
const scopes = new ScopeTable();
/** Within the thread's heap cap, whatever the records' size; a batch under a collector's default 4 MiB message limit. */
const LOG_QUEUE_BYTES = 16 * 2 ** 20;
const LOG_BATCH_BYTES = 3 * 2 ** 20;
let logs: ExportQueue<LogData, ReadableLogRecord> | undefined;
/** Made with the first records: an app that logs nothing through its logging library loads no log exporter. */
function logQueue(settings: NonNullable<WorkerSetup['logs']>): ExportQueue<LogData, ReadableLogRecord> {
  logs ??= new ExportQueue<LogData, ReadableLogRecord>({
    batch: settings.batch,
    exporter: exporterFor(settings.otlp, 'logs'),
    convert: (records, resource) => records.map((record) => fromLogData(record, resource, scopes)),
    fullLine: `the log queue is full (OTEL_BLRP_MAX_QUEUE_SIZE=${settings.batch.maxQueueSize}, or ${LOG_QUEUE_BYTES / 2 ** 20} MiB); log records are dropped until it drains. Raise it, or log less`,
    bytes: { sizeOf: logDataSize, queue: LOG_QUEUE_BYTES, batch: LOG_BATCH_BYTES },
  });
  return logs;
}

function exporterFor<T>(options: ExporterOptions, signal: Signal): CollectorExporter<T> | undefined {
  try {
    return new CollectorExporter<T>(options, signal);
  } catch (error) {
    say(`cannot load the ${options.protocol} ${signal === 'spans' ? '' : `${signal} `}exporter (${reason(error)}); ${signal} are dropped`);
    return undefined;
  }
}

parentPort?.on('message', (message: WorkerMessage) => {
  if (message.type === 'resource') {
    resource = resourceFromAttributes(message.attributes as never);
    void spans.drain(resource);
    void logs?.drain(resource);
    sendWaitingMetrics();
  } else if (message.type === 'spans') {
    spans.add(message.records, resource);
  } else if (message.type === 'logs') {
    if (setup.logs) logQueue(setup.logs).add(message.records, resource);
  } else if (message.type === 'metrics') {
    exportMetrics(message.scopeMetrics);
  } else {
    beatWhileFlushing(
      flush().finally(() => {
        Atomics.store(state, FLUSHED, message.id);
        Atomics.notify(state, FLUSHED);
        parentPort?.postMessage({ type: 'flushed', id: message.id });
      }),
    );
  }
});

/**
 * One metrics export in flight at a time, and at most one collection waiting behind it: the values
 * are cumulative, so a newer collection replaces a waiting one and only resolution is lost.
 */
function exportMetrics(scopeMetrics: ResourceMetrics['scopeMetrics']): void {
  metricsExporter ??= exporterFor<ResourceMetrics>(setup.metrics, 'metrics');
  if (!metricsExporter) return;
  if (waitingMetrics) metricsExporter.dropped(1);
  waitingMetrics = scopeMetrics;
  sendWaitingMetrics();
}

/** Once the resource is known: a collection made before it (at exit, say) waits for it, as spans do. */
function sendWaitingMetrics(): void {
  if (!resource || !metricsExporter || !waitingMetrics) return;
  metricsSending ??= sendMetrics(metricsExporter, resource).finally(() => {
    metricsSending = undefined;
  });
}

async function sendMetrics(sender: CollectorExporter<ResourceMetrics>, resource: Resource): Promise<void> {
  for (let scopeMetrics = waitingMetrics; scopeMetrics; scopeMetrics = waitingMetrics) {
    waitingMetrics = undefined;
    const metrics: ResourceMetrics = { resource, scopeMetrics };
    try {
      if (await sender.reachable()) await new Promise((resolve) => sender.export(metrics, 1, resolve));
      else sender.dropped(1);
    } catch {
      // An export that throws (a value it cannot serialise) loses this collection, not the next.
      sender.dropped(1);
    }
  }
}

/**
 * The app's thread may be blocked waiting for this flush (at exit), where it cannot hear of a death
 * by the heap cap, which runs no code on its way out: it listens for beats instead.
 */
function beatWhileFlushing(flushed: Promise<void>): void {
  Atomics.add(state, BEAT, 1);
  flushesAwaited++;
  beating ??= setInterval(() => Atomics.add(state, BEAT, 1), HEARTBEAT_MILLIS).unref();
  void flushed.finally(() => {
    if (--flushesAwaited > 0) return;
    clearInterval(beating);
    beating = undefined;
  });
}

function flush(): Promise<void> {
  return Promise.all([spans.flush(resource), logs?.flush(resource), metricsSending]).then(() => {});
}
