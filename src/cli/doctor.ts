// `rustok-otel doctor`: answers "I enabled it and see nothing" in one run. It reads the configuration
// the way the preload will (same env, same directory), names where each value came from, finds the
// known traps, and sends one real test span to the configured collector. It never prints a credential:
// endpoints are shown redacted, headers only counted, and the whole report goes through the scrubber
// with the configuration's secrets, the text form and the JSON alike.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { type ExportResult, millisToHrTime } from '@opentelemetry/core';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { build } from '../bundle/build-info.js';
import { parseConfig } from '../config/parse.js';
import { isHttps } from '../config/readers.js';
import { holdsPrivateKey, redactEndpoint } from '../config/secrets.js';
import type { Config, ConfigResult, ExporterOptions, TlsFile } from '../config/types.js';
import { connectionError, explain, otlpExporter, type Signal } from '../export/exporter.js';
import { fromLogData, ScopeTable } from '../export/log-record.js';
import { applicableInstrumentations } from '../instrument/catalogue.js';
import { reason, scrubber } from '../log.js';
import { nodeAtLeast, nodeVersion } from '../node-version.js';
import { installedPackageJson, readPackageJson } from '../package-json.js';
import { type AppPackage, findAppPackage, serviceIdentity, serviceIdentitySources } from '../preload/app-package.js';
import { createResource } from '../preload/resource.js';

export interface Setting {
  readonly setting: string;
  readonly value: string;
  /** The variable it came from, the app's package.json (its path) or `npm_package_name`, or `default`. */
  readonly source: string;
}

export interface Check {
  readonly level: 'error' | 'warning';
  readonly message: string;
}

export type ExportCheck =
  | { readonly ok: true; readonly protocol: string; readonly url: string; readonly roundTripMillis: number }
  | { readonly ok: false; readonly protocol: string; readonly url: string; readonly error: string; readonly fix: string };

export interface DoctorReport {
  readonly healthy: boolean;
  readonly directory: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly configuration: readonly Setting[];
  readonly instrumentations: { readonly loaded: readonly string[]; readonly uninstrumented: readonly string[] };
  readonly checks: readonly Check[];
  /** The test span. */
  readonly export: ExportCheck;
  /** The test log record, in the test span's trace; absent when logs are off. */
  readonly logsExport?: ExportCheck;
}

type Env = Readonly<Record<string, string | undefined>>;

interface Manifest {
  readonly name?: string;
  readonly version?: string;
  readonly type?: string;
  readonly main?: string;
  readonly scripts?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
}

export async function doctor(env: Env, directory: string): Promise<DoctorReport> {
  const parsed = parseConfig(env);
  const { config, warnings, silenced } = parsed;
  const manifest = readManifest(directory);
  const app = findAppPackage(join(directory, 'index.js'));
  const loaded = applicableInstrumentations(config.instrumentations, join(directory, 'index.js'), app.dependencies, process.env);
  const covered = new Set(loaded.flatMap((entry) => entry.modules));
  const checks: Check[] = [
    ...traps(env, parsed, directory, manifest, app),
    // Those the preload keeps to itself while tracing is off too: they are what it would say once on.
    ...[...warnings, ...silenced].map((message) => ({ level: 'warning' as const, message })),
  ];
  const { exported, logsExported } = await exportTest(config, app);
  return scrubbed(parsed.secrets, {
    healthy: exported.ok && (logsExported?.ok ?? true) && checks.every((check) => check.level !== 'error'),
    directory,
    versions: versions(),
    configuration: settings(parsed, app),
    instrumentations: {
      loaded: loaded.map((entry) => entry.name),
      uninstrumented: Object.keys(typeof manifest.dependencies === 'object' ? (manifest.dependencies ?? {}) : {}).filter(
        (name) => !covered.has(name) && !name.startsWith('@types/') && !name.startsWith('@opentelemetry/') && name !== '@rustok/otel',
      ),
    },
    checks,
    export: exported,
    ...(logsExported ? { logsExport: logsExported } : {}),
  });
}

/** Every string in the report with the configuration's secrets replaced by `***`: what is printed, as text or JSON, comes from here. */
function scrubbed<T>(secrets: readonly string[], report: T): T {
  const scrub = scrubber(secrets);
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return scrub(value);
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null)
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item)]));
    return value;
  };
  return walk(report) as T;
}

function readManifest(directory: string): Manifest {
  return (readPackageJson(join(directory, 'package.json')) ?? {}) as Manifest;
}

function versions(): Record<string, string> {
  return {
    node: nodeVersion.text,
    '@rustok/otel': build?.version ?? 'source',
    '@opentelemetry/api': packageVersion('@opentelemetry/api'),
    // The SDK and the instrumentations are bundled into the package: their versions are the build's.
    '@opentelemetry/core (SDK)': build?.sdkVersion ?? packageVersion('@opentelemetry/core'),
    'instrumentations of @opentelemetry/auto-instrumentations-node':
      build?.instrumentationsVersion ?? packageVersion('@opentelemetry/auto-instrumentations-node'),
  };
}

function packageVersion(name: string): string {
  const version = installedPackageJson(name, createRequire(import.meta.url).resolve)?.manifest?.version;
  return typeof version === 'string' ? version : 'not found';
}

/** Each effective setting and where its value came from, as the config module says (the app's package for the name and version it did not set). */
function settings({ config, sources }: ConfigResult, app: AppPackage): Setting[] {
  const { traces, metrics, logs } = config;
  const service = serviceIdentity(config, app);
  const serviceSources = serviceIdentitySources(config, app, sources);
  const headers = (set: Readonly<Record<string, string>>) => {
    const count = Object.keys(set).length;
    return count === 0 ? '(none)' : `${count} header${count === 1 ? '' : 's'} (hidden)`;
  };
  /** The files, each unreadable one said so; none of them is used for an http:// endpoint. */
  const tls = ({ url, tls: { certificate, clientKey, clientCertificate } }: ExporterOptions) => {
    const named = (file: TlsFile) => {
      try {
        accessSync(resolve(file.path), constants.R_OK);
        return file.path;
      } catch (error) {
        // A key's variable may hold the key itself where its path belongs: not shown.
        const shown = holdsPrivateKey(file.variable) ? `from ${file.variable}` : file.path;
        return `${shown} (cannot be read: ${(error as NodeJS.ErrnoException).code})`;
      }
    };
    const files = [
      certificate && `authority ${named(certificate)}`,
      clientKey && clientCertificate && `client key ${named(clientKey)} and certificate ${named(clientCertificate)}`,
    ].filter(Boolean);
    if (files.length === 0) return "(none: the system's authorities)";
    return isHttps(url) ? files.join('; ') : `(unused: the endpoint is not https://) ${files.join('; ')}`;
  };
  const otlpMetrics: Setting[] =
    metrics.exporter !== 'otlp'
      ? []
      : [
          { setting: 'metrics protocol', value: metrics.otlp.protocol, source: sources['metrics.otlp.protocol'] },
          { setting: 'metrics endpoint', value: redactEndpoint(metrics.otlp.url), source: sources['metrics.otlp.url'] },
          { setting: 'metrics headers', value: headers(metrics.otlp.headers), source: sources['metrics.otlp.headers'] },
          { setting: 'metrics export timeout', value: `${metrics.otlp.timeoutMillis} ms`, source: sources['metrics.otlp.timeoutMillis'] },
          { setting: 'metrics compression', value: metrics.otlp.compression, source: sources['metrics.otlp.compression'] },
          { setting: 'metrics TLS files', value: tls(metrics.otlp), source: sources['metrics.otlp.tls'] },
          { setting: 'metrics interval', value: `${metrics.intervalMillis / 1000} s`, source: sources['metrics.intervalMillis'] },
        ];
  const otlpLogs: Setting[] =
    logs.exporter !== 'otlp'
      ? []
      : [
          { setting: 'logs protocol', value: logs.otlp.protocol, source: sources['logs.otlp.protocol'] },
          { setting: 'logs endpoint', value: redactEndpoint(logs.otlp.url), source: sources['logs.otlp.url'] },
          { setting: 'logs headers', value: headers(logs.otlp.headers), source: sources['logs.otlp.headers'] },
          { setting: 'logs export timeout', value: `${logs.otlp.timeoutMillis} ms`, source: sources['logs.otlp.timeoutMillis'] },
          { setting: 'logs compression', value: logs.otlp.compression, source: sources['logs.otlp.compression'] },
          { setting: 'logs TLS files', value: tls(logs.otlp), source: sources['logs.otlp.tls'] },
        ];
  return [
    { setting: 'tracing', value: config.enabled ? 'on' : 'off', source: sources.enabled },
    { setting: 'service.name', value: service.name, source: serviceSources.name },
    { setting: 'service.version', value: service.version ?? '(none)', source: serviceSources.version },
    {
      setting: 'deployment.environment.name',
      value: config.environment ?? "NODE_ENV as the app's command sets it, else development",
      source: sources.environment,
    },
    { setting: 'protocol', value: traces.otlp.protocol, source: sources['traces.otlp.protocol'] },
    { setting: 'traces endpoint', value: redactEndpoint(traces.otlp.url), source: sources['traces.otlp.url'] },
    { setting: 'headers', value: headers(traces.otlp.headers), source: sources['traces.otlp.headers'] },
    { setting: 'export timeout', value: `${traces.otlp.timeoutMillis} ms`, source: sources['traces.otlp.timeoutMillis'] },
    { setting: 'compression', value: traces.otlp.compression, source: sources['traces.otlp.compression'] },
    { setting: 'TLS files', value: tls(traces.otlp), source: sources['traces.otlp.tls'] },
    {
      setting: 'sampling',
      value: `${traces.sampler.ratio * 100}%${traces.sampler.parentBased ? ', following the caller' : ''}`,
      source: sources['traces.sampler'],
    },
    {
      setting: 'metrics',
      value:
        metrics.exporter === 'prometheus'
          ? `prometheus on ${metrics.prometheus.host ?? '*'}:${metrics.prometheus.port}/metrics`
          : metrics.exporter,
      source: sources['metrics.exporter'],
    },
    ...otlpMetrics,
    { setting: 'logs', value: logs.exporter, source: sources['logs.exporter'] },
    ...otlpLogs,
    {
      setting: 'command line in the resource',
      value: config.resourceCommandArgs ? 'yes (process.command_args)' : 'no',
      source: sources.resourceCommandArgs,
    },
    { setting: 'untraced paths', value: config.untracedPaths.join(', ') || '(none)', source: sources.untracedPaths },
    { setting: 'Express layers with spans', value: config.expressLayers.join(', ') || '(none)', source: sources.expressLayers },
    {
      setting: "upstream's instead of ours",
      value: config.upstreamInstrumentations.join(', ') || '(none: HTTP servers and clients, Express and fetch are ours)',
      source: sources.upstreamInstrumentations,
    },
    { setting: 'shutdown timeout', value: `${config.shutdownTimeoutMillis} ms`, source: sources.shutdownTimeoutMillis },
  ];
}

function traps(env: Env, { config, sources }: ConfigResult, directory: string, manifest: Manifest, app: AppPackage): Check[] {
  const checks: Check[] = [];
  const error = (message: string) => checks.push({ level: 'error', message });
  const warning = (message: string) => checks.push({ level: 'warning', message });

  if (sources.enabled === 'OTEL_SDK_DISABLED') {
    error('OTEL_SDK_DISABLED=true turns tracing off whatever OTEL_ENABLED says; unset it');
  } else if (!env.OTEL_ENABLED?.trim()) {
    error('OTEL_ENABLED is not set here: the preload loads and does nothing. Set OTEL_ENABLED=true where the app starts');
  } else if (!config.enabled) {
    error(`OTEL_ENABLED="${env.OTEL_ENABLED}" leaves tracing off; set it to true`);
  }

  if (!nodeAtLeast(20, 6)) {
    error(`Node.js ${nodeVersion.text} is older than 20.6: ES modules cannot be hooked there. Upgrade Node.js`);
  }

  const preload = /@rustok\/otel\/register/;
  const nodeOptions = env.NODE_OPTIONS ?? '';
  const start = typeof manifest.scripts?.start === 'string' ? manifest.scripts.start : '';
  if (nodeOptions && !preload.test(nodeOptions) && !preload.test(start)) {
    error(
      `NODE_OPTIONS is set ("${nodeOptions}") without --import @rustok/otel/register: a NODE_OPTIONS set later replaces the one that loaded the preload. Add it there`,
    );
  } else if (!preload.test(nodeOptions) && !preload.test(start)) {
    warning(
      'neither NODE_OPTIONS nor the start script loads the preload: start with node --import @rustok/otel/register, or put that in NODE_OPTIONS',
    );
  }

  const bundle = bundledEntry(directory, manifest);
  if (bundle) {
    warning(
      `${bundle} looks bundled (webpack, esbuild, ncc): modules inlined into a bundle are never required by name, so their instrumentations cannot patch them. Mark instrumented packages (express, pg, …) external`,
    );
  }

  if ((config.serviceName ?? app.name) === undefined) {
    warning('service.name will be unknown_service:node: set OTEL_SERVICE_NAME, or a name in package.json');
  }

  // Each signal sent over OTLP has its own protocol and endpoint, so any can be crossed: one line per
  // protocol, naming the general variable when every signal sent is crossed, else each signal's own.
  const sent = [
    ['traces', config.traces.otlp] as const,
    ...(config.metrics.exporter === 'otlp' ? [['metrics', config.metrics.otlp] as const] : []),
    ...(config.logs.exporter === 'otlp' ? [['logs', config.logs.otlp] as const] : []),
  ];
  const crossed = sent
    .filter(([, { protocol, url }]) => new URL(url).port === (protocol === 'grpc' ? '4318' : '4317'))
    .map(([signal, { protocol }]) => ({ signal, protocol }));
  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    const signals = crossed.filter((entry) => entry.protocol === protocol).map((entry) => entry.signal);
    if (signals.length === 0) continue;
    const all = signals.length > 1 && signals.length === sent.length;
    const other = protocol === 'grpc' ? 'http/protobuf' : 'grpc';
    const fix = (all ? ['OTEL_EXPORTER_OTLP_PROTOCOL'] : signals.map((signal) => `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`))
      .map((variable) => `${variable}=${other}`)
      .join(' and ');
    const which = all ? '' : ` (${signals.join(' and ')})`;
    warning(
      protocol === 'grpc'
        ? `gRPC to port 4318${which}, which is OTLP over HTTP: use port 4317, or ${fix}`
        : `OTLP over HTTP to port 4317${which}, which is gRPC: use port 4318, or ${fix}`,
    );
  }
  return checks;
}

/** The entry file, when it looks like a bundler's output. */
function bundledEntry(directory: string, manifest: Manifest): string | undefined {
  const start = typeof manifest.scripts?.start === 'string' ? manifest.scripts.start : '';
  const candidates = [...start.split(/\s+/).filter((word) => /\.[cm]?js$/.test(word)), manifest.main];
  for (const candidate of candidates.filter((file): file is string => typeof file === 'string')) {
    try {
      const file = join(directory, candidate);
      if (!statSync(file).isFile()) continue;
      const text = readFileSync(file, 'utf8').slice(0, 2_000_000);
      if (/__webpack_require__|__nccwpck_require__|__commonJS\(|__toESM\(|parcelRequire/.test(text)) return candidate;
    } catch {
      // Missing or unreadable: not something this check can tell about.
    }
  }
  return undefined;
}

/** One real span, and one log record in its trace when logs are on, with the app's resource, to the configured endpoints. */
async function exportTest(config: Config, app: AppPackage): Promise<{ exported: ExportCheck; logsExported?: ExportCheck }> {
  const ended: ReadableSpan[] = [];
  const resource = createResource({ ...config, resourceDetectors: [] }, app);
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [
      {
        onStart() {},
        onEnd: (span) => ended.push(span),
        forceFlush: async () => {},
        shutdown: async () => {},
      },
    ],
  });
  const span = provider.getTracer('@rustok/otel doctor').startSpan('rustok-otel doctor', { attributes: { 'rustok.doctor': true } });
  span.end();
  const exported = await exportOne('spans', config.traces.otlp, ended);
  if (config.logs.exporter === 'none') return { exported };
  const now = millisToHrTime(Date.now());
  const { traceId, spanId, traceFlags } = span.spanContext();
  const record = fromLogData(
    {
      time: now,
      observed: now,
      severityNumber: 9,
      severityText: 'INFO',
      body: 'rustok-otel doctor: a test log record',
      attributes: { 'rustok.doctor': true },
      droppedAttributes: 0,
      span: { traceId, spanId, traceFlags },
      scope: { name: '@rustok/otel doctor' },
    },
    resource,
    new ScopeTable(),
  );
  return { exported, logsExported: await exportOne('logs', config.logs.otlp, [record]) };
}

async function exportOne<T>(signal: Signal, otlp: ExporterOptions, items: T): Promise<ExportCheck> {
  const { protocol } = otlp;
  const url = redactEndpoint(otlp.url);
  const failure = (error: unknown): ExportCheck => ({ ok: false, protocol, url, error: reason(error), fix: explain(error, otlp, signal) });
  // A refused port or an unknown host is known in a millisecond; an exporter would retry for seconds.
  const unreachable = await connectionError(otlp);
  if (unreachable) return failure(unreachable);
  let exporter: ReturnType<typeof otlpExporter<T>>;
  try {
    exporter = otlpExporter<T>(signal, otlp);
  } catch (error) {
    return failure(error);
  }
  const started = performance.now();
  const result = await new Promise<ExportResult>((resolve) => exporter.export(items, resolve));
  const roundTripMillis = Math.round(performance.now() - started);
  await exporter.shutdown().catch(() => {});
  if (result.code === 0) return { ok: true, protocol, url, roundTripMillis };
  return failure(result.error ?? new Error('the export failed without a reason'));
}

/** The report for a person: aligned, short, the fix next to each problem. */
export function formatReport(report: DoctorReport, colour: boolean): string {
  const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const ok = paint('32', '✓');
  const bad = paint('31', '✗');
  const exportLine = (what: string, check: ExportCheck) =>
    check.ok
      ? `  ${ok} a ${what} reached ${check.protocol} ${check.url} in ${check.roundTripMillis} ms`
      : `  ${bad} no ${what} reached ${check.protocol} ${check.url}: ${check.error}\n    fix: ${check.fix}`;
  const warn = paint('33', '!');
  const width = Math.max(...report.configuration.map((setting) => setting.setting.length));
  const valueWidth = Math.min(60, Math.max(...report.configuration.map((setting) => setting.value.length)));
  const lines = [
    `rustok-otel doctor in ${report.directory}`,
    '',
    Object.entries(report.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', '),
    '',
    'Configuration',
    ...report.configuration.map(
      ({ setting, value, source }) => `  ${setting.padEnd(width)}  ${value.padEnd(valueWidth)}  ${paint('2', source)}`,
    ),
    '',
    `Instrumentations that will load (${report.instrumentations.loaded.length}): ${report.instrumentations.loaded.join(', ') || 'none'}`,
    `Dependencies without one: ${report.instrumentations.uninstrumented.join(', ') || 'none'}`,
    '',
    'Checks',
    ...(report.checks.length === 0 ? [`  ${ok} no known trap`] : []),
    ...report.checks.map((check) => `  ${check.level === 'error' ? bad : warn} ${check.message}`),
    '',
    'Export test',
    exportLine('test span', report.export),
    ...(report.logsExport ? [exportLine('test log record', report.logsExport)] : []),
    '',
    report.healthy ? paint('32', 'Healthy.') : paint('31', 'Not healthy: fix the ✗ lines above.'),
  ];
  return `${lines.join('\n')}\n`;
}
