// The export thread. Serialising spans to protobuf and talking gRPC or HTTP to the collector happen
// here, off the app's thread; and because this thread keeps running while the app's thread waits on
// it, spans can still be exported from inside `process.exit()` and after a crash.
import { parentPort, workerData } from 'node:worker_threads';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { hide, reason, say } from '../log.js';
import { CollectorExporter } from './exporter.js';
import { BEAT, FLUSHED, HEARTBEAT_MILLIS, STOPPED, type WorkerMessage, type WorkerSetup } from './protocol.js';
import { fromRecord, type SpanRecord } from './span-record.js';

const setup = workerData as WorkerSetup;
hide(setup.secrets);
const state = new Int32Array(setup.state);
// A crash still runs this (the heap cap does not): the app's thread stops waiting at once.
process.on('exit', () => {
  Atomics.store(state, STOPPED, 1);
  Atomics.notify(state, FLUSHED);
});
// The first beat says the thread is up; from then on, its silence means it is gone.
Atomics.add(state, BEAT, 1);
setInterval(() => Atomics.add(state, BEAT, 1), HEARTBEAT_MILLIS).unref();
// Batches are timed on the app's thread; here spans queue only while the collector is slow or down.
const { maxQueueSize, maxExportBatchSize, exportTimeoutMillis } = setup.batch;
const queue: SpanRecord[] = [];
let resource: Resource | undefined;
let exporter: CollectorExporter | undefined;
let metricsExporter: CollectorExporter<ResourceMetrics> | undefined;
let waitingMetrics: ResourceMetrics['scopeMetrics'] | undefined;
let metricsSending: Promise<void> | undefined;
let queueFull = false;
let draining: Promise<void> | undefined;

try {
  exporter = new CollectorExporter(setup.traces);
} catch (error) {
  say(`cannot load the ${setup.traces.protocol} exporter (${reason(error)}); spans are dropped`);
}

parentPort?.on('message', (message: WorkerMessage) => {
  if (message.type === 'resource') {
    resource = resourceFromAttributes(message.attributes as never);
    void drain();
    sendWaitingMetrics();
  } else if (message.type === 'spans') {
    enqueue(message.records);
  } else if (message.type === 'metrics') {
    exportMetrics(message.scopeMetrics);
  } else {
    void flush().finally(() => {
      Atomics.store(state, FLUSHED, message.id);
      Atomics.notify(state, FLUSHED);
      parentPort?.postMessage({ type: 'flushed', id: message.id });
    });
  }
});

function enqueue(records: readonly SpanRecord[]): void {
  const room = maxQueueSize - queue.length;
  queue.push(...records.slice(0, Math.max(room, 0)));
  if (records.length > room) {
    exporter?.dropped(records.length - room);
    if (!queueFull) {
      say(
        `the export queue is full (OTEL_BSP_MAX_QUEUE_SIZE=${maxQueueSize}); spans are dropped until it drains. Raise it, or sample less`,
      );
    }
    queueFull = true;
  } else if (queue.length < maxQueueSize / 2) {
    queueFull = false;
  }
  void drain();
}

/** Exports everything queued, one batch at a time; concurrent callers share the same run. */
function drain(): Promise<void> {
  draining ??= (async () => {
    while (queue.length > 0 && resource && exporter) {
      if (!(await exporter.reachable())) {
        exporter.dropped(queue.length);
        queue.length = 0;
        return;
      }
      const batch = queue.splice(0, maxExportBatchSize).map((record) => fromRecord(record, resource as Resource));
      // OTEL_BSP_EXPORT_TIMEOUT bounds one batch, retries included: the queue behind it moves on.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, exportTimeoutMillis);
        exporter?.export(batch, batch.length, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  })().finally(() => {
    draining = undefined;
  });
  return draining;
}

/**
 * One metrics export in flight at a time, and at most one collection waiting behind it: the values
 * are cumulative, so a newer collection replaces a waiting one and only resolution is lost.
 */
function exportMetrics(scopeMetrics: ResourceMetrics['scopeMetrics']): void {
  try {
    metricsExporter ??= new CollectorExporter<ResourceMetrics>(setup.metrics, 'metrics');
  } catch (error) {
    say(`cannot load the ${setup.metrics.protocol} metrics exporter (${reason(error)}); metrics are dropped`);
    return;
  }
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

function flush(): Promise<void> {
  return Promise.all([(draining ?? Promise.resolve()).then(drain), metricsSending]).then(() => {});
}
