// RED metrics from the same preload: the HTTP instrumentations' duration histograms and the runtime's
// event-loop, heap and GC metrics, pushed over OTLP through the export thread or served for a
// Prometheus scrape. A file of its own in the build, loaded only when metrics are on.
import { createServer, type IncomingMessage } from 'node:http';
import { type InstrumentationScope, millisToHrTime } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { Resource } from '@opentelemetry/resources';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import * as sdk from '@opentelemetry/sdk-metrics';
import { loadOnDemand } from '../bundle/on-demand.js';
import { redactEndpoint } from '../config/secrets.js';
import type { Config } from '../config/types.js';
import type { ExportThread } from '../export/thread.js';
import { reason, sayOnce } from '../log.js';
import { type HttpDurations, httpDurations } from './http-durations.js';

export interface Metrics {
  readonly meterProvider: import('@opentelemetry/api').MeterProvider;
  /** Where our HTTP instrumentations record durations: aggregated by us, collected by the reader. */
  readonly httpDurations: HttpDurations;
  readonly instrumentations: readonly Instrumentation[];
  /** For the banner: where the metrics go. */
  readonly destination: string;
  /** Collects and exports what was measured since the last export, waiting at most `timeoutMillis`. */
  flush(timeoutMillis: number): Promise<void>;
  /**
   * At the event loop's end: collects once more, in promises alone, so that nothing holds the loop
   * ('beforeExit' would come round again, and the app's listeners with it; even starting the export
   * thread does that).
   */
  collectAtEnd(): void;
  /** Hands what collectAtEnd() collected to the export thread, from 'exit', which then waits for it; whether there was any. */
  sendCollected(): boolean;
  /** Whether an incoming request is Prometheus scraping us: not something to trace or measure. */
  isScrape(request: IncomingMessage): boolean;
}

export function startMetrics(config: Config, resource: Resource, scope: InstrumentationScope, thread: () => ExportThread): Metrics {
  const { metrics } = config;
  // The SDK's clock for its own metrics' times: the wall clock, not the monotonic one hrTime() runs on.
  const durations = httpDurations(scope, resource, () => millisToHrTime(Date.now()));
  let reader: import('@opentelemetry/sdk-metrics').MetricReader;
  let destination: string;
  let isScrape: Metrics['isScrape'] = () => false;
  let collectAtEnd: Metrics['collectAtEnd'] = () => {};
  let sendCollected: Metrics['sendCollected'] = () => false;
  if (metrics.exporter === 'prometheus') {
    const scrape = servePrometheus(metrics.prometheus, durations);
    reader = scrape.reader;
    isScrape = scrape.isScrape;
    destination = `a Prometheus scrape on ${metrics.prometheus.host ?? '*'}:${metrics.prometheus.port}/metrics`;
  } else {
    const exporter = new ThreadMetricExporter(thread);
    reader = new sdk.PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: metrics.intervalMillis,
      exportTimeoutMillis: Math.min(metrics.intervalMillis, config.shutdownTimeoutMillis),
      metricProducers: [durations],
    });
    destination = `${metrics.otlp.protocol} ${redactEndpoint(metrics.otlp.url)} every ${metrics.intervalMillis / 1000} s`;
    const periodic = reader;
    let collected: ResourceMetrics | undefined;
    let collectedAtEnd = false;
    // Without a timeout the collection runs in promises alone, which end before the event loop looks
    // again. Once: an observable callback of the app's own that does I/O brings 'beforeExit' round
    // again, and a collection each time would never let the loop end.
    collectAtEnd = () => {
      if (collectedAtEnd) return;
      collectedAtEnd = true;
      void periodic.collect().then(
        (result) => {
          collected = result.resourceMetrics;
        },
        () => {},
      );
    };
    sendCollected = () => {
      if (!collected) return false;
      exporter.export(collected, () => {});
      collected = undefined;
      return true;
    };
  }
  const meterProvider = new sdk.MeterProvider({ resource, readers: [reader] });
  const instrumentations: Instrumentation[] = [];
  if (metrics.runtime) {
    const { RuntimeNodeInstrumentation } = loadOnDemand('@opentelemetry/instrumentation-runtime-node') as {
      RuntimeNodeInstrumentation: new () => Instrumentation;
    };
    instrumentations.push(new RuntimeNodeInstrumentation());
  }
  return {
    meterProvider,
    httpDurations: durations,
    instrumentations,
    destination,
    async flush(timeoutMillis) {
      const deadline = Date.now() + timeoutMillis;
      // Collects, and hands the collection to the export thread when metrics are pushed.
      await reader.forceFlush({ timeoutMillis });
      if (metrics.exporter === 'otlp') await thread().flush(Math.max(0, deadline - Date.now()));
    },
    isScrape,
    collectAtEnd,
    sendCollected,
  };
}

/**
 * Hands each collection to the export thread, which owns the connection to the collector. Waiting for
 * the thread to send it is the caller's (Metrics.flush), which knows how long it may wait.
 */
class ThreadMetricExporter implements PushMetricExporter {
  readonly #thread: () => ExportThread;

  constructor(thread: () => ExportThread) {
    this.#thread = thread;
  }

  export(metrics: ResourceMetrics, done: (result: { code: number }) => void): void {
    // The resource went over once already; the rest is plain data a structured clone carries.
    this.#thread().sendMetrics(metrics.scopeMetrics);
    done({ code: 0 });
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function servePrometheus({ host, port }: Config['metrics']['prometheus'], durations: HttpDurations) {
  const { PrometheusExporter }: typeof import('@opentelemetry/exporter-prometheus') = require('@opentelemetry/exporter-prometheus');
  // Our own server, not the exporter's, so we know which requests are scrapes.
  const reader = new PrometheusExporter({ preventServerStart: true, metricProducers: [durations] });
  const server = createServer((request, response) => {
    if ((request.url ?? '').split('?')[0] === '/metrics') reader.getMetricsRequestHandler(request, response);
    else response.writeHead(404).end('metrics are at /metrics\n');
  });
  server.on('error', (error) => {
    sayOnce(
      `cannot serve metrics on ${host ?? '*'}:${port} (${reason(error)}); set OTEL_EXPORTER_PROMETHEUS_PORT to a free port. Traces are unaffected`,
    );
  });
  // A scrape endpoint must not keep a finished app alive, nor must Prometheus' kept-alive connections.
  server.on('connection', (socket) => socket.unref());
  server.listen(port, host).unref();
  const isScrape = (request: IncomingMessage) => {
    const address = server.address();
    return typeof address === 'object' && address !== null && request.socket?.localPort === address.port;
  };
  return { reader, isScrape };
}
