// Starts tracing: builds the tracer provider from its parts (not @opentelemetry/sdk-node, which loads
// every exporter there is) around a processor that hands spans to the export thread, loads the
// instrumentations the app can use, and hooks the process's exit.
import { createRequire } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { build } from '../bundle/build-info.js';
import { parseConfig } from '../config/parse.js';
import { redactEndpoint } from '../config/secrets.js';
import { type Config, EXPRESS_LAYERS, type LeanInstrumentation } from '../config/types.js';
import { type ExportThread, startExportThread } from '../export/thread.js';
import { applicableInstrumentations, replacesModules } from '../instrument/catalogue.js';
import { expressInstrumentation } from '../instrument/express.js';
import { httpClientInstrumentation } from '../instrument/http-client.js';
import { traceHttpServers } from '../instrument/http-server.js';
import { loadInstrumentations } from '../instrument/load.js';
import { importPatching, patchImports } from '../instrument/module-hooks.js';
import { sendPinoLines } from '../instrument/pino-log-sending.js';
import { undiciInstrumentation } from '../instrument/undici.js';
import { redactedFetchUrl } from '../instrument/url-redaction.js';
import { diagLogger, hide, reason, say, sayOnce } from '../log.js';
import { type AppPackage, appEntry, findAppPackage, serviceIdentity } from './app-package.js';
import { installShutdown } from './exit-hooks.js';
import { ThreadLoggerProvider } from './logs.js';
import type { Metrics } from './metrics.js';
import { createResource } from './resource.js';
import { ThreadSpanProcessor } from './span-processor.js';

const STARTED = Symbol.for('@rustok/otel.started');
/** The instrumentation scope of the spans and metrics our own instrumentations make. */
const LEAN_SCOPE = '@rustok/otel';

/** What the preload calls once OTEL_ENABLED is set: parse, explain, then start unless tracing is off. */
export function register(env: NodeJS.ProcessEnv): void {
  const global = globalThis as { [STARTED]?: true };
  // Preloaded twice, or a second copy of this package: the first one has said and done it all.
  if (global[STARTED]) return;
  global[STARTED] = true;
  const { config, warnings, secrets } = parseConfig(env);
  // Before the first line: from here on nothing this package prints carries a credential.
  hide(secrets);
  for (const warning of warnings) sayOnce(warning);
  if (config.enabled) start(config);
}

function start(config: Config): void {
  try {
    startTracing(config);
  } catch (error) {
    sayOnce(`could not start tracing (${reason(error)}); the app runs untraced`);
  }
}

function startTracing(config: Config): void {
  const api: typeof import('@opentelemetry/api') = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const core: typeof import('@opentelemetry/core') = require('@opentelemetry/core');
  const base: typeof import('@opentelemetry/sdk-trace-base') = require('@opentelemetry/sdk-trace-base');
  const instrumentation: typeof import('@opentelemetry/instrumentation') = require('@opentelemetry/instrumentation');

  if (config.logLevel !== 'none') {
    const level = api.DiagLogLevel[config.logLevel.toUpperCase() as keyof typeof api.DiagLogLevel];
    api.diag.setLogger(diagLogger(), level);
  }

  const entry = appEntry();
  const app = findAppPackage(entry);
  const resource = createResource(config, app);
  const processor = new ThreadSpanProcessor(() => startExportThread(config, resource), config.traces.batch, config.shutdownTimeoutMillis);
  const provider = new base.BasicTracerProvider({ resource, sampler: sampler(base, config.traces.sampler), spanProcessors: [processor] });

  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(
    new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] }),
  );
  api.trace.setGlobalTracerProvider(provider);

  const metrics =
    config.metrics.exporter === 'none'
      ? undefined
      : startMetrics(config, resource, { name: LEAN_SCOPE, version: build?.version }, () => processor.exportThread());
  // The app's own meters (`metrics.getMeter()`) go where the RED metrics go, as its tracers do;
  // unless it brings a metrics SDK of its own, whose provider would be refused the global.
  if (metrics && !OWN_METRICS_SDK.some((name) => app.dependencies.includes(name)))
    api.metrics.setGlobalMeterProvider(metrics.meterProvider);
  const logs = config.logs.exporter === 'none' ? undefined : startLogs(config, api, core, () => processor.exportThread());
  const enable = (instrumentations: Instrumentation[]) =>
    instrumentation.registerInstrumentations({ tracerProvider: provider, meterProvider: metrics?.meterProvider, instrumentations });
  enable([...(metrics?.instrumentations ?? [])]);
  const applicable = applicableInstrumentations(config.instrumentations, entry, app.dependencies, process.env);
  if (applicable.some(({ name }) => name === 'http') && !config.upstreamInstrumentations.includes('http')) {
    traceHttpServers({
      api,
      core,
      tracer: provider.getTracer(LEAN_SCOPE, build?.version),
      histogram: metrics?.httpDurations.server,
      ignore: untracedRequests(config, metrics),
    });
  }
  const modules = applicable.flatMap((instrumentation) => instrumentation.modules);
  const imports = importPatching(modules, entry, replacesModules(applicable));
  // On demand only where every import passes through require: the hooks' module lists are fixed when they start.
  const loaded = loadInstrumentations(
    applicable,
    imports === 'through require',
    (name) => {
      if (config.upstreamInstrumentations.includes(name as LeanInstrumentation)) return undefined;
      const lean = { api, instrumentation, scope: LEAN_SCOPE, version: build?.version, histogram: metrics?.httpDurations.client };
      if (name === 'http') return httpClientInstrumentation(lean);
      if (name === 'undici') return undiciInstrumentation(lean);
      if (name !== 'express') return undefined;
      return expressInstrumentation({ ...lean, core, layers: config.expressLayers, routeAlways: metrics !== undefined });
    },
    (name) => instrumentationConfig(name, config, metrics),
    (name, instrumentation) => {
      if (name === 'pino' && logs) sendPinoLines(instrumentation, logs.pinoLines(instrumentation));
    },
    enable,
  );
  for (const failure of loaded.failures) sayOnce(`instrumentation ${failure} could not be loaded; its spans are missing`);
  try {
    patchImports(imports, modules, entry);
  } catch (error) {
    sayOnce(`the ES module hook could not be registered (${reason(error)}); ES modules are traced only through CommonJS`);
  }

  installShutdown(
    {
      // Spans first: when the collector is down, the line about it names the spans.
      // While this runs the event loop does too: a second signal is heard, and a launcher's wrapper
      // (tsx) hears that the signal arrived. flushSync after it has little or nothing left to wait for.
      flush: async (timeoutMillis) => {
        const deadline = Date.now() + timeoutMillis;
        logs?.handOver();
        await processor.forceFlush(timeoutMillis);
        await metrics?.flush(Math.max(0, deadline - Date.now()));
      },
      flushSync: (timeoutMillis) => {
        const deadline = Date.now() + timeoutMillis;
        logs?.handOver();
        processor.flushSync(timeoutMillis);
        if (metrics?.sendCollected()) processor.flushSync(Math.max(0, deadline - Date.now()));
      },
      collectAtEnd: () => metrics?.collectAtEnd(),
      recordCrash(error, fatal) {
        if (fatal && logs) {
          // Thrown out of a request, the error has left its context; the span that recorded it on the way out knows the trace.
          const recorded = api.trace.getActiveSpan() ? undefined : processor.spanThatRecorded(error);
          logs.recordCrash(error, recorded ? api.trace.setSpanContext(api.context.active(), recorded) : api.context.active());
        }
        const active = api.trace.getActiveSpan();
        if (!active?.isRecording()) return;
        const status = { code: api.SpanStatusCode.ERROR, message: reason(error) };
        active.recordException(error instanceof Error ? error : String(error));
        active.setStatus(status);
        if (!fatal) return;
        // The process dies before the request ends: end its open spans now, so the whole trace arrives.
        for (let span: typeof active | undefined = active; span; span = processor.openParent(span)) {
          span.setStatus(status);
          span.end();
        }
      },
    },
    config.shutdownTimeoutMillis,
  );

  const { names } = loaded;
  say(
    `tracing ${serviceLabel(config, app)} (${config.environment ?? 'development unless the app sets NODE_ENV'}) to ${config.traces.otlp.protocol} ${redactEndpoint(config.traces.otlp.url)}, ` +
      `sampling ${Math.round(config.traces.sampler.ratio * 1000) / 10}%, ${names.length} instrumentations (${names.join(', ')}); ` +
      (metrics ? `metrics to ${metrics.destination}` : 'no metrics') +
      (logs ? `; logs to ${config.logs.otlp.protocol} ${redactEndpoint(config.logs.otlp.url)}` : '; no logs'),
  );
}

/** The logger provider the logging instrumentations (pino, winston, bunyan) send their records to. */
function startLogs(
  config: Config,
  api: typeof import('@opentelemetry/api'),
  core: typeof import('@opentelemetry/core'),
  thread: () => ExportThread,
): ThreadLoggerProvider {
  const provider = new ThreadLoggerProvider(thread, config.logs.batch, {
    activeContext: () => api.context.active(),
    spanContextOf: (context) => {
      const span = api.trace.getSpanContext(context);
      return span && api.isSpanContextValid(span) ? span : undefined;
    },
    hrTime: (time) => (time === undefined ? core.millisToHrTime(Date.now()) : core.timeInputToHrTime(time)),
  });
  const { logs }: typeof import('@opentelemetry/api-logs') = require('@opentelemetry/api-logs');
  logs.setGlobalLoggerProvider(provider);
  return provider;
}

/** Metrics that cannot start cost the app its metrics, not its traces. */
function startMetrics(...args: Parameters<typeof import('./metrics.js').startMetrics>): Metrics | undefined {
  try {
    // Its own bundle beside this one, read only when metrics are on.
    return createRequire(import.meta.url)('./metrics.cjs').startMetrics(...args);
  } catch (error) {
    sayOnce(`could not start metrics (${reason(error)}); traces are unaffected`);
    return undefined;
  }
}

function serviceLabel(config: Config, app: AppPackage): string {
  const { name, version } = serviceIdentity(config, app);
  return version ? `${name}@${version}` : name;
}

function sampler(base: typeof import('@opentelemetry/sdk-trace-base'), { ratio, parentBased }: Config['traces']['sampler']) {
  const root =
    ratio >= 1 ? new base.AlwaysOnSampler() : ratio <= 0 ? new base.AlwaysOffSampler() : new base.TraceIdRatioBasedSampler(ratio);
  return parentBased ? new base.ParentBasedSampler({ root }) : root;
}

/** Packages with which an app sets up metrics of its own. */
const OWN_METRICS_SDK = ['@opentelemetry/sdk-metrics', '@opentelemetry/sdk-node'];

/** The instrumentations that send the records of a logging library as OTLP logs. */
const LOG_SENDING = ['pino', 'winston', 'bunyan'];

function instrumentationConfig(name: string, config: Config, metrics: Metrics | undefined): object {
  // With logs off, the instrumentations only put the trace on the app's lines: no second stream per logger.
  if (LOG_SENDING.includes(name)) return { disableLogSending: config.logs.exporter === 'none' };
  if (name === 'undici') return { startSpanHook: redactedFetchUrl };
  if (name === 'express') {
    return { ignoreLayersType: EXPRESS_LAYERS.filter((layer) => !config.expressLayers.includes(layer)) };
  }
  if (name !== 'http' || (config.untracedPaths.length === 0 && !metrics)) return {};
  return { ignoreIncomingRequestHook: untracedRequests(config, metrics) };
}

/** The requests to leave untraced and unmeasured: the configured paths, and Prometheus scraping us. */
function untracedRequests(config: Config, metrics: Metrics | undefined): (request: import('node:http').IncomingMessage) => boolean {
  const untraced = new Set(config.untracedPaths);
  return (request) => untraced.has((request.url ?? '').split('?')[0] ?? '') || metrics?.isScrape(request) === true;
}
