// The whole configuration, read from an env object: pure, never throws, and every value it could not
// use comes back as one warning naming the variable, the value and what is used instead.
import { INSTRUMENTATIONS, METRICS_ONLY_INSTRUMENTATIONS, NOISY_INSTRUMENTATIONS } from './instrumentations.js';

export type Protocol = 'grpc' | 'http/protobuf';
export type MetricsExporter = 'otlp' | 'prometheus' | 'none';

/** Where one signal goes over OTLP. */
export interface ExporterOptions {
  readonly protocol: Protocol;
  /** For grpc the collector's address, for http/protobuf the full URL the signal is POSTed to. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMillis: number;
}
export type LogLevel = 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';

export interface Config {
  readonly enabled: boolean;
  /** Undefined: taken from the app's package.json when the SDK starts. */
  readonly serviceName: string | undefined;
  readonly serviceVersion: string | undefined;
  readonly environment: string;
  /** OTEL_RESOURCE_ATTRIBUTES, which the values above override. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly resourceDetectors: readonly string[];
  readonly exporter: ExporterOptions;
  readonly metrics: {
    /** `none` loads no metrics code at all. */
    readonly exporter: MetricsExporter;
    readonly otlp: ExporterOptions;
    readonly intervalMillis: number;
    /** The scrape endpoint; host undefined listens on every interface, as a scrape from another pod needs. */
    readonly prometheus: { readonly host: string | undefined; readonly port: number };
    /** Event-loop delay, heap and GC metrics (the runtime-node instrumentation). */
    readonly runtime: boolean;
  };
  /** Ratio 1 samples everything, 0 nothing; parentBased follows an incoming decision. */
  readonly sampler: { readonly ratio: number; readonly parentBased: boolean };
  readonly batch: {
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
    readonly scheduledDelayMillis: number;
    readonly exportTimeoutMillis: number;
  };
  readonly instrumentations: readonly string[];
  readonly untracedPaths: readonly string[];
  /** The Express layers that get a span of their own; the route is on the server span either way. */
  readonly expressLayers: readonly ExpressLayer[];
  readonly shutdownTimeoutMillis: number;
  readonly logLevel: LogLevel;
}

export interface ConfigResult {
  readonly config: Config;
  readonly warnings: readonly string[];
}

type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_PORT: Record<Protocol, number> = { grpc: 4317, 'http/protobuf': 4318 };
const LOCAL_DETECTORS = ['env', 'host', 'os', 'process', 'serviceinstance', 'container'];
const ALL_DETECTORS = [...LOCAL_DETECTORS, 'alibaba', 'aws', 'azure', 'gcp'];
const LOG_LEVELS: readonly LogLevel[] = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'];
const SAMPLERS: Record<string, { ratio?: number; parentBased: boolean }> = {
  always_on: { ratio: 1, parentBased: false },
  always_off: { ratio: 0, parentBased: false },
  traceidratio: { parentBased: false },
  parentbased_always_on: { ratio: 1, parentBased: true },
  parentbased_always_off: { ratio: 0, parentBased: true },
  parentbased_traceidratio: { parentBased: true },
};

export function parseConfig(env: Env): ConfigResult {
  const warnings: string[] = [];
  const warn = (message: string) => {
    if (!warnings.includes(message)) warnings.push(message);
  };
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };

  const enabled = readEnabled(read, warn);
  const protocol = readProtocol(read, warn);
  const attributes = readKeyValues(read, 'OTEL_RESOURCE_ATTRIBUTES', warn, true);
  const batchQueue = readInteger(read, warn, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048);
  const batchSize = readInteger(read, warn, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512);
  const generalHeaders = readHeaders(read, 'OTEL_EXPORTER_OTLP_HEADERS', warn);
  const generalTimeout = readInteger(read, warn, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10000);

  const config: Config = {
    enabled,
    serviceName: read('OTEL_SERVICE_NAME') ?? attributes['service.name'],
    serviceVersion: read('OTEL_SERVICE_VERSION') ?? attributes['service.version'],
    environment: read('RUST_ENV') ?? read('NODE_ENV') ?? attributes['deployment.environment.name'] ?? 'development',
    resourceAttributes: Object.freeze(attributes),
    resourceDetectors: Object.freeze(readDetectors(read, warn)),
    exporter: Object.freeze({
      protocol,
      url: readEndpoint(read, warn, protocol, 'traces'),
      headers: Object.freeze({ ...generalHeaders, ...readHeaders(read, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', warn) }),
      timeoutMillis: readInteger(read, warn, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', generalTimeout),
    }),
    metrics: Object.freeze({
      exporter: readMetricsExporter(read, warn),
      otlp: Object.freeze({
        protocol,
        // A bad general endpoint was explained for traces already.
        url: readEndpoint(read, (message) => message.startsWith('OTEL_EXPORTER_OTLP_ENDPOINT=') || warn(message), protocol, 'metrics'),
        headers: Object.freeze({ ...generalHeaders }),
        timeoutMillis: generalTimeout,
      }),
      intervalMillis: readInteger(read, warn, 'OTEL_METRIC_EXPORT_INTERVAL', 60000),
      prometheus: Object.freeze({
        host: read('OTEL_EXPORTER_PROMETHEUS_HOST'),
        port: readInteger(read, warn, 'OTEL_EXPORTER_PROMETHEUS_PORT', 9464, 0, 65535),
      }),
      runtime: !(readList(read, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? []).includes('runtime-node'),
    }),
    sampler: Object.freeze(readSampler(read, warn)),
    batch: Object.freeze({
      maxQueueSize: batchQueue,
      maxExportBatchSize: batchSize > batchQueue ? clampBatch(read, warn, batchSize, batchQueue) : batchSize,
      scheduledDelayMillis: readInteger(read, warn, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 0),
      exportTimeoutMillis: readInteger(read, warn, 'OTEL_BSP_EXPORT_TIMEOUT', 30000),
    }),
    instrumentations: Object.freeze(readInstrumentations(read, warn)),
    untracedPaths: Object.freeze(readUntracedPaths(read, warn)),
    expressLayers: Object.freeze(readExpressLayers(read, warn)),
    shutdownTimeoutMillis: readInteger(read, warn, 'OTEL_SHUTDOWN_TIMEOUT_MS', 5000),
    logLevel: readLogLevel(read, warn),
  };
  // Other tools share the OTEL_ namespace: complain about it only when we are the ones reading it.
  const relevant = enabled ? warnings : warnings.filter((w) => w.startsWith('OTEL_ENABLED') || w.startsWith('OTEL_SDK_DISABLED'));
  return Object.freeze({ config: Object.freeze(config), warnings: Object.freeze(relevant) });
}

type Read = (name: string) => string | undefined;
type Warn = (message: string) => void;

function readEnabled(read: Read, warn: Warn): boolean {
  const disabled = read('OTEL_SDK_DISABLED');
  if (disabled !== undefined) {
    const value = disabled.toLowerCase();
    if (value === 'true') return false;
    if (value !== 'false') warn(`OTEL_SDK_DISABLED="${disabled}" is neither true nor false; ignoring it`);
  }
  const raw = read('OTEL_ENABLED');
  if (raw === undefined) return false;
  const value = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (!['false', '0', 'no', 'off'].includes(value)) {
    warn(`OTEL_ENABLED="${raw}" is not one of true/1/yes/on or false/0/no/off; tracing stays off`);
  }
  return false;
}

function firstSet(read: Read, ...names: string[]): string {
  return names.find((name) => read(name) !== undefined) ?? names[names.length - 1] ?? '';
}

function readProtocol(read: Read, warn: Warn): Protocol {
  const name = firstSet(read, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL');
  const raw = read(name);
  if (raw === undefined || raw === 'grpc' || raw === 'http/protobuf') return raw ?? 'grpc';
  warn(`${name}="${raw}" is not grpc or http/protobuf; using grpc`);
  return 'grpc';
}

function readMetricsExporter(read: Read, warn: Warn): MetricsExporter {
  const raw = read('OTEL_METRICS_EXPORTER');
  if (raw === undefined) return 'otlp';
  const value = raw.toLowerCase();
  if (value === 'otlp' || value === 'prometheus' || value === 'none') return value;
  warn(`OTEL_METRICS_EXPORTER="${raw}" is not one of otlp, prometheus, none; using otlp`);
  return 'otlp';
}

const SIGNAL_ENDPOINT = { traces: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', metrics: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT' };

function readEndpoint(read: Read, warn: Warn, protocol: Protocol, signal: 'traces' | 'metrics'): string {
  const withPath = (base: string) => (protocol === 'grpc' ? base : `${base.replace(/\/+$/, '')}/v1/${signal}`);
  const unusable: string[] = [];
  let chosen: string | undefined;
  for (const [name, signalSpecific] of [
    [SIGNAL_ENDPOINT[signal], true],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', false],
  ] as const) {
    const raw = read(name);
    if (raw === undefined || chosen !== undefined) continue;
    const url = endpointUrl(raw);
    if (url === undefined) {
      unusable.push(`${name}="${raw}" is not an http:// or https:// URL`);
      continue;
    }
    if (url !== raw) warn(`${name}="${raw}" has no scheme; using ${url}`);
    // The signal-specific endpoint is the full URL already; the general one is a base (OTLP spec).
    chosen = signalSpecific ? url : withPath(url);
  }
  const url = chosen ?? withPath(`http://localhost:${DEFAULT_PORT[protocol]}`);
  for (const problem of unusable) warn(`${problem}; using ${url}`);
  return url;
}

function endpointUrl(raw: string): string | undefined {
  const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  try {
    const url = new URL(candidate);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return candidate;
  } catch {
    return undefined;
  }
}

/** `k=v,k2=v2` with percent-encoded values (W3C baggage style). Header values are never echoed. */
function readKeyValues(read: Read, name: string, warn: Warn, echo: boolean): Record<string, string> {
  const raw = read(name);
  const entries: [string, string][] = [];
  if (raw === undefined) return {};
  raw.split(',').forEach((item, index) => {
    if (item.trim() === '') return;
    const separator = item.indexOf('=');
    const key = item.slice(0, separator).trim();
    if (separator < 1 || key === '') {
      const shown = echo ? `"${item.trim()}"` : `number ${index + 1}`;
      warn(`${name} entry ${shown} is not key=value; ignoring it`);
      return;
    }
    const value = item.slice(separator + 1).trim();
    try {
      entries.push([key, decodeURIComponent(value)]);
    } catch {
      entries.push([key, value]);
    }
  });
  // fromEntries defines every key as data, `__proto__` included, where assignment would not.
  return Object.fromEntries(entries);
}

/** Node's timers and buffers take at most 2^31-1; larger values would quietly mean 1. */
const MAX_INTEGER = 2 ** 31 - 1;

/** Header names are HTTP tokens, lower-case for gRPC metadata; a bad one would fail every export. */
function readHeaders(read: Read, name: string, warn: Warn): Record<string, string> {
  const headers = readKeyValues(read, name, warn, false);
  return Object.fromEntries(
    Object.entries(headers).flatMap(([key, value]) => {
      if (/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(key)) return [[key.toLowerCase(), value]];
      warn(`${name} header name "${key}" is not a valid HTTP header name; ignoring that header`);
      return [];
    }),
  );
}

function readInteger(read: Read, warn: Warn, name: string, fallback: number, min = 1, max = MAX_INTEGER): number {
  const raw = read(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  const problem = Number.isInteger(value) && value > max ? `is larger than ${max}` : `is not a whole number ≥ ${min}`;
  warn(`${name}="${raw}" ${problem}; using ${fallback}`);
  return fallback;
}

function clampBatch(read: Read, warn: Warn, batchSize: number, queueSize: number): number {
  if (read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') === undefined) return queueSize;
  warn(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE="${batchSize}" is larger than the queue (${queueSize}); using ${queueSize}`);
  return queueSize;
}

function readRatio(read: Read, warn: Warn, name: string): number {
  const raw = read(name);
  if (raw === undefined) return 1;
  const value = Number(raw);
  if (!Number.isFinite(value)) warn(`${name}="${raw}" is not a number; using 1`);
  else if (value < 0 || value > 1) warn(`${name}="${raw}" is outside 0..1; using 1`);
  else return value;
  return 1;
}

function readSampler(read: Read, warn: Warn): Config['sampler'] {
  const raw = read('OTEL_TRACES_SAMPLER');
  const standard = raw !== undefined && Object.hasOwn(SAMPLERS, raw.toLowerCase()) ? SAMPLERS[raw.toLowerCase()] : undefined;
  if (raw !== undefined && standard === undefined) {
    warn(`OTEL_TRACES_SAMPLER="${raw}" is not one of ${Object.keys(SAMPLERS).join(', ')}; using OTEL_SAMPLING_RATE`);
  }
  if (standard === undefined) return { ratio: readRatio(read, warn, 'OTEL_SAMPLING_RATE'), parentBased: true };
  if (read('OTEL_SAMPLING_RATE') !== undefined) {
    warn(`OTEL_SAMPLING_RATE="${read('OTEL_SAMPLING_RATE')}" is ignored because OTEL_TRACES_SAMPLER="${raw}" is set`);
  }
  return { ratio: standard.ratio ?? readRatio(read, warn, 'OTEL_TRACES_SAMPLER_ARG'), parentBased: standard.parentBased };
}

function readList(read: Read, name: string): string[] | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function readInstrumentations(read: Read, warn: Warn): string[] {
  const known = new Set(INSTRUMENTATIONS.map((entry) => entry.name));
  const valid = (name: string) => (list: string[]) =>
    list.filter((item) => {
      if (known.has(item)) return true;
      if (item === 'runtime-node' && name === 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') return false;
      const why =
        item === 'runtime-node'
          ? 'is loaded with metrics, not traces (OTEL_METRICS_EXPORTER)'
          : METRICS_ONLY_INSTRUMENTATIONS.includes(item)
            ? "makes host metrics, which are the Collector's job (its hostmetrics receiver)"
            : 'is not a known instrumentation (see the README for the names)';
      warn(`${name} entry "${item}" ${why}; ignoring it`);
      return false;
    });
  const enabled = readList(read, 'OTEL_NODE_ENABLED_INSTRUMENTATIONS');
  const disabled = valid('OTEL_NODE_DISABLED_INSTRUMENTATIONS')(readList(read, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? []);
  const chosen =
    enabled === undefined
      ? [...known].filter((name) => !NOISY_INSTRUMENTATIONS.includes(name))
      : valid('OTEL_NODE_ENABLED_INSTRUMENTATIONS')(enabled);
  return chosen.filter((name) => !disabled.includes(name));
}

function readDetectors(read: Read, warn: Warn): string[] {
  const list = readList(read, 'OTEL_NODE_RESOURCE_DETECTORS');
  if (list === undefined) return [...LOCAL_DETECTORS];
  if (list.includes('none')) return [];
  if (list.includes('all')) return [...ALL_DETECTORS];
  return list.filter((item) => {
    if (ALL_DETECTORS.includes(item)) return true;
    warn(`OTEL_NODE_RESOURCE_DETECTORS entry "${item}" is not one of ${ALL_DETECTORS.join(', ')}, all, none; ignoring it`);
    return false;
  });
}

function readUntracedPaths(read: Read, warn: Warn): string[] {
  return (readList(read, 'OTEL_NODE_UNTRACED_PATHS') ?? []).filter((path) => {
    if (path.startsWith('/')) return true;
    warn(`OTEL_NODE_UNTRACED_PATHS entry "${path}" does not start with /; ignoring it`);
    return false;
  });
}

export type ExpressLayer = 'request_handler' | 'router' | 'middleware';
export const EXPRESS_LAYERS: readonly ExpressLayer[] = ['request_handler', 'router', 'middleware'];

/** One span per request handler by default: a span per middleware and router is the noise users turn off first. */
function readExpressLayers(read: Read, warn: Warn): ExpressLayer[] {
  const list = readList(read, 'OTEL_NODE_EXPRESS_LAYERS');
  if (list === undefined) return ['request_handler'];
  if (list.includes('all')) return [...EXPRESS_LAYERS];
  return list.filter((item): item is ExpressLayer => {
    if ((EXPRESS_LAYERS as readonly string[]).includes(item)) return true;
    warn(`OTEL_NODE_EXPRESS_LAYERS entry "${item}" is not one of ${EXPRESS_LAYERS.join(', ')}, all; ignoring it`);
    return false;
  });
}

function readLogLevel(read: Read, warn: Warn): LogLevel {
  const raw = read('OTEL_LOG_LEVEL');
  if (raw === undefined) return 'none';
  const level = LOG_LEVELS.find((candidate) => candidate === raw.toLowerCase());
  if (level === undefined) warn(`OTEL_LOG_LEVEL="${raw}" is not one of ${LOG_LEVELS.join(', ')}; using none`);
  return level ?? 'none';
}
