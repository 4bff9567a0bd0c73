// The whole configuration, read from an env object: pure, never throws, and every value it could not
// use comes back as one warning naming the variable, the value and what is used instead. It also
// records where each value came from (`sources`), so that nothing else has to guess.
import { INSTRUMENTATIONS, METRICS_ONLY_INSTRUMENTATIONS, NOISY_INSTRUMENTATIONS } from '../instrument/catalogue.js';
import {
  endpointUrl,
  entriesProblem,
  type Headers,
  isHttps,
  type Read,
  readBoolean,
  readHeaders,
  readInteger,
  readKeyValues,
  readList,
  type Sourced,
  type Warn,
  type Why,
} from './readers.js';
import { redactEndpoint, secretsOf } from './secrets.js';
import {
  type Compression,
  type Config,
  type ConfigResult,
  type ConfigSetting,
  DEFAULT_SOURCE,
  EXPRESS_LAYERS,
  type ExporterOptions,
  type ExpressLayer,
  LEAN_INSTRUMENTATIONS,
  type LeanInstrumentation,
  type LogLevel,
  type LogsExporter,
  type MetricsExporter,
  type Protocol,
  type TlsFile,
  type TlsFiles,
} from './types.js';

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
  const sources = {} as Record<ConfigSetting, string>;
  const from = <T>(setting: ConfigSetting, [value, source]: Sourced<T>): T => {
    sources[setting] = source;
    return value;
  };

  const enabled = from('enabled', readEnabled(read, warn));
  const attributes = readKeyValues(read, 'OTEL_RESOURCE_ATTRIBUTES', warn);
  // An empty value is unset, as for every variable.
  const fromAttributes = (key: string): Sourced<string | undefined> =>
    attributes[key] ? [attributes[key], 'OTEL_RESOURCE_ATTRIBUTES'] : [undefined, DEFAULT_SOURCE];
  const firstOf = <T>(...candidates: Sourced<T | undefined>[]): Sourced<T | undefined> =>
    candidates.find(([value]) => value !== undefined) ?? [undefined, DEFAULT_SOURCE];
  const variable = (name: string): Sourced<string | undefined> => [read(name), name];

  const protocol = readProtocol(read, warn, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
  const metricsProtocol = readProtocol(read, warn, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL');
  const logsProtocol = readProtocol(read, warn, 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL');
  const batchQueue = readInteger(read, warn, 'OTEL_BSP_MAX_QUEUE_SIZE', [2048, DEFAULT_SOURCE]);
  const batchSize = readInteger(read, warn, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', [512, DEFAULT_SOURCE]);
  const logsQueue = readInteger(read, warn, 'OTEL_BLRP_MAX_QUEUE_SIZE', [2048, DEFAULT_SOURCE]);
  const logsBatchSize = readInteger(read, warn, 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', [512, DEFAULT_SOURCE]);
  const generalHeaders = readHeaders(read, 'OTEL_EXPORTER_OTLP_HEADERS', warn);
  const generalTimeout = readInteger(read, warn, 'OTEL_EXPORTER_OTLP_TIMEOUT', [10000, DEFAULT_SOURCE]);
  const generalCompression = readCompression(read, warn, 'OTEL_EXPORTER_OTLP_COMPRESSION', ['none', DEFAULT_SOURCE]);
  const disabledInstrumentations = readList(read, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? [];
  // A bad general endpoint was explained for traces already.
  const warnAfterTraces: Warn = (message) => {
    if (!message.startsWith('OTEL_EXPORTER_OTLP_ENDPOINT')) warn(message);
  };
  /** How spans or log records are batched: the size at most the queue, the delay and the timeout from the signal's variables. */
  const batchOf = (
    signal: 'traces' | 'logs',
    queue: Sourced<number>,
    size: Sourced<number>,
    delayMillis: number,
    variables: { readonly size: string; readonly delay: string; readonly timeout: string },
  ): Config['traces']['batch'] =>
    Object.freeze({
      maxQueueSize: from(`${signal}.batch.maxQueueSize`, queue),
      maxExportBatchSize: from(
        `${signal}.batch.maxExportBatchSize`,
        size[0] > queue[0] ? clampBatch(read, warn, variables.size, size[0], queue) : size,
      ),
      scheduledDelayMillis: from(
        `${signal}.batch.scheduledDelayMillis`,
        readInteger(read, warn, variables.delay, [delayMillis, DEFAULT_SOURCE], 0),
      ),
      exportTimeoutMillis: from(`${signal}.batch.exportTimeoutMillis`, readInteger(read, warn, variables.timeout, [30000, DEFAULT_SOURCE])),
    });
  /** Where metrics or logs go over OTLP: each from the signal's own variables, else the general ones. */
  const otlpOf = (
    signal: 'metrics' | 'logs',
    protocol: Sourced<Protocol>,
    variables: { readonly headers: string; readonly timeout: string } & TransportVariables,
  ): ExporterOptions =>
    Object.freeze({
      protocol: from(`${signal}.otlp.protocol`, protocol),
      url: from(`${signal}.otlp.url`, readEndpoint(read, warnAfterTraces, protocol[0], signal)),
      headers: Object.freeze(from(`${signal}.otlp.headers`, mergeHeaders(generalHeaders, readHeaders(read, variables.headers, warn)))),
      timeoutMillis: from(`${signal}.otlp.timeoutMillis`, readInteger(read, warn, variables.timeout, generalTimeout)),
      ...transportOf(signal, variables),
    });
  /** Half a client certificate, by the variable that holds it: said once for all the signals it leaves without one. */
  const unpaired = new Map<string, { missing: string; signals: ('traces' | 'metrics' | 'logs')[] }>();
  /** Compression and TLS files: a signal's own variable, else the general one. */
  const transportOf = (
    signal: 'traces' | 'metrics' | 'logs',
    variables: TransportVariables,
  ): Pick<ExporterOptions, 'compression' | 'tls'> => {
    const [files, half] = readTlsFiles(read, warn, variables);
    if (half) {
      const entry = unpaired.get(half.variable) ?? { missing: half.missing, signals: [] };
      entry.signals.push(signal);
      unpaired.set(half.variable, entry);
    }
    return {
      compression: from(`${signal}.otlp.compression`, readCompression(read, warn, variables.compression, generalCompression)),
      tls: Object.freeze(from(`${signal}.otlp.tls`, files)),
    };
  };

  const config: Config = {
    enabled,
    serviceName: from('serviceName', firstOf(variable('OTEL_SERVICE_NAME'), fromAttributes('service.name'))),
    serviceVersion: from('serviceVersion', firstOf(variable('OTEL_SERVICE_VERSION'), fromAttributes('service.version'))),
    environment: from('environment', firstOf(variable('RUST_ENV'), variable('NODE_ENV'), fromAttributes('deployment.environment.name'))),
    resourceAttributes: Object.freeze(
      from('resourceAttributes', [attributes, Object.keys(attributes).length > 0 ? 'OTEL_RESOURCE_ATTRIBUTES' : DEFAULT_SOURCE]),
    ),
    resourceDetectors: Object.freeze(from('resourceDetectors', readDetectors(read, warn))),
    resourceCommandArgs: from(
      'resourceCommandArgs',
      readBoolean(read, warn, 'OTEL_NODE_RESOURCE_COMMAND_ARGS', 'the command line stays out of the resource'),
    ),
    traces: Object.freeze({
      otlp: Object.freeze({
        protocol: from('traces.otlp.protocol', protocol),
        url: from('traces.otlp.url', readEndpoint(read, warn, protocol[0], 'traces')),
        headers: Object.freeze(
          from('traces.otlp.headers', mergeHeaders(generalHeaders, readHeaders(read, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', warn))),
        ),
        timeoutMillis: from('traces.otlp.timeoutMillis', readInteger(read, warn, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', generalTimeout)),
        ...transportOf('traces', {
          compression: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
          certificate: 'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE',
          clientKey: 'OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY',
          clientCertificate: 'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE',
        }),
      }),
      sampler: Object.freeze(from('traces.sampler', readSampler(read, warn))),
      batch: batchOf('traces', batchQueue, batchSize, 5000, {
        size: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
        delay: 'OTEL_BSP_SCHEDULE_DELAY',
        timeout: 'OTEL_BSP_EXPORT_TIMEOUT',
      }),
    }),
    metrics: Object.freeze({
      exporter: from('metrics.exporter', readMetricsExporter(read, warn)),
      otlp: otlpOf('metrics', metricsProtocol, {
        headers: 'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
        timeout: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT',
        compression: 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION',
        certificate: 'OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE',
        clientKey: 'OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY',
        clientCertificate: 'OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE',
      }),
      intervalMillis: from('metrics.intervalMillis', readInteger(read, warn, 'OTEL_METRIC_EXPORT_INTERVAL', [60000, DEFAULT_SOURCE])),
      prometheus: Object.freeze({
        host: from('metrics.prometheus.host', firstOf(variable('OTEL_EXPORTER_PROMETHEUS_HOST'))),
        port: from('metrics.prometheus.port', readInteger(read, warn, 'OTEL_EXPORTER_PROMETHEUS_PORT', [9464, DEFAULT_SOURCE], 0, 65535)),
      }),
      runtime: from(
        'metrics.runtime',
        disabledInstrumentations.includes('runtime-node') ? [false, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS'] : [true, DEFAULT_SOURCE],
      ),
    }),
    logs: Object.freeze({
      exporter: from('logs.exporter', readLogsExporter(read, warn)),
      otlp: otlpOf('logs', logsProtocol, {
        headers: 'OTEL_EXPORTER_OTLP_LOGS_HEADERS',
        timeout: 'OTEL_EXPORTER_OTLP_LOGS_TIMEOUT',
        compression: 'OTEL_EXPORTER_OTLP_LOGS_COMPRESSION',
        certificate: 'OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE',
        clientKey: 'OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY',
        clientCertificate: 'OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE',
      }),
      batch: batchOf('logs', logsQueue, logsBatchSize, 1000, {
        size: 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE',
        delay: 'OTEL_BLRP_SCHEDULE_DELAY',
        timeout: 'OTEL_BLRP_EXPORT_TIMEOUT',
      }),
    }),
    instrumentations: Object.freeze(from('instrumentations', readInstrumentations(read, warn))),
    untracedPaths: Object.freeze(from('untracedPaths', readUntracedPaths(read, warn))),
    expressLayers: Object.freeze(from('expressLayers', readExpressLayers(read, warn))),
    upstreamInstrumentations: Object.freeze(from('upstreamInstrumentations', readUpstreamInstrumentations(read, warn))),
    shutdownTimeoutMillis: from('shutdownTimeoutMillis', readInteger(read, warn, 'OTEL_SHUTDOWN_TIMEOUT_MS', [5000, DEFAULT_SOURCE])),
    logLevel: from('logLevel', readLogLevel(read, warn)),
  };
  // Other tools share the OTEL_ namespace: complain about it only when we are the ones reading it.
  const aboutEnabling = (w: string) => w.startsWith('OTEL_ENABLED') || w.startsWith('OTEL_SDK_DISABLED');
  for (const [variable, { missing, signals: all }] of unpaired) {
    // Only where a client certificate would be sent: an OTLP exporter, to an https:// endpoint.
    const signals = all.filter((signal) => {
      const exporting = signal === 'traces' || config[signal].exporter === 'otlp';
      return exporting && isHttps(config[signal].otlp.url);
    });
    if (signals.length === 0) continue;
    const which = signals.length === 1 ? signals[0] : `${signals.slice(0, -1).join(', ')} and ${signals.at(-1)}`;
    warn(`${variable} is set, but no ${missing} (or a signal's own) goes with it; ${which} go without a client certificate`);
  }
  return Object.freeze({
    config: Object.freeze(config),
    warnings: Object.freeze(enabled ? warnings : warnings.filter(aboutEnabling)),
    silenced: Object.freeze(enabled ? [] : warnings.filter((w) => !aboutEnabling(w))),
    secrets: Object.freeze(secretsOf(read)),
    sources: Object.freeze(sources),
  });
}

/** The environment now: the configured one, else NODE_ENV as the app's command may have set it since, else development. */
export function environmentOf(config: Config, env: Env = process.env): string {
  return config.environment ?? (env.NODE_ENV?.trim() || 'development');
}

function readEnabled(read: Read, warn: Warn): Sourced<boolean> {
  const disabled = read('OTEL_SDK_DISABLED');
  if (disabled !== undefined) {
    const value = disabled.toLowerCase();
    if (value === 'true') return [false, 'OTEL_SDK_DISABLED'];
    if (value !== 'false') warn(`OTEL_SDK_DISABLED="${disabled}" is neither true nor false; ignoring it`);
  }
  return readBoolean(read, warn, 'OTEL_ENABLED', 'tracing stays off');
}

/** The signal's own variable, else OTEL_EXPORTER_OTLP_PROTOCOL, else grpc; an unusable one is skipped with a warning. */
function readProtocol(read: Read, warn: Warn, signalName: string): Sourced<Protocol> {
  const unusable: string[] = [];
  let chosen: Sourced<Protocol> | undefined;
  for (const name of [signalName, 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const raw = read(name);
    if (raw === undefined || chosen !== undefined) continue;
    if (raw === 'grpc' || raw === 'http/protobuf') chosen = [raw, name];
    else unusable.push(`${name}="${raw}" is not grpc or http/protobuf`);
  }
  const result = chosen ?? ['grpc', DEFAULT_SOURCE];
  for (const problem of unusable) warn(`${problem}; using ${result[0]}`);
  return result;
}

function readCompression(read: Read, warn: Warn, name: string, fallback: Sourced<Compression>): Sourced<Compression> {
  const raw = read(name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase();
  if (value === 'gzip' || value === 'none') return [value, name];
  warn(`${name}="${raw}" is not gzip or none; using ${fallback[0]}`);
  return fallback;
}

/** One signal's own transport variables; the general ones are OTEL_EXPORTER_OTLP_COMPRESSION and so on. */
interface TransportVariables {
  readonly compression: string;
  readonly certificate: string;
  readonly clientKey: string;
  readonly clientCertificate: string;
}

/**
 * The PEM files of one signal, each from the signal's own variable or else the general one, and
 * their sources; their paths are not secrets, and the exporter reads them. A value that is PEM text
 * rather than a path (a key pasted in) is refused without being shown. A client key without its
 * certificate, or the reverse, is used for neither: TLS needs both. That half is returned for the
 * caller to say, once for every signal it concerns.
 */
function readTlsFiles(
  read: Read,
  warn: Warn,
  variables: TransportVariables,
): [Sourced<TlsFiles>, { variable: string; missing: string } | undefined] {
  const file = (own: string, general: string): TlsFile | undefined => {
    const variable = [own, general].find((name) => read(name) !== undefined);
    if (!variable) return undefined;
    const path = read(variable) as string;
    if (pemText(path)) {
      warn(`${variable} holds PEM text (not shown), not the path of a file; it is not used`);
      return undefined;
    }
    return { path, variable };
  };
  const certificate = file(variables.certificate, 'OTEL_EXPORTER_OTLP_CERTIFICATE');
  const clientKey = file(variables.clientKey, 'OTEL_EXPORTER_OTLP_CLIENT_KEY');
  const clientCertificate = file(variables.clientCertificate, 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE');
  const files: TlsFiles = {
    ...(certificate ? { certificate } : {}),
    ...(clientKey && clientCertificate ? { clientKey, clientCertificate } : {}),
  };
  // One half refused as PEM text (said already) does not make the other a half to say.
  const refused = [
    variables.clientKey,
    variables.clientCertificate,
    'OTEL_EXPORTER_OTLP_CLIENT_KEY',
    'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
  ].some((name) => pemText(read(name)));
  const half = refused
    ? undefined
    : clientKey && !clientCertificate
      ? { variable: clientKey.variable, missing: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE' }
      : clientCertificate && !clientKey
        ? { variable: clientCertificate.variable, missing: 'OTEL_EXPORTER_OTLP_CLIENT_KEY' }
        : undefined;
  const sources = Object.values(files).map((tlsFile) => tlsFile.variable);
  return [[files, sources.join(', ') || DEFAULT_SOURCE], half];
}

function pemText(value: string | undefined): boolean {
  return value !== undefined && /-----BEGIN|\n/.test(value);
}

function readMetricsExporter(read: Read, warn: Warn): Sourced<MetricsExporter> {
  const raw = read('OTEL_METRICS_EXPORTER');
  if (raw === undefined) return ['otlp', DEFAULT_SOURCE];
  const value = raw.toLowerCase();
  if (value === 'otlp' || value === 'prometheus' || value === 'none') return [value, 'OTEL_METRICS_EXPORTER'];
  warn(`OTEL_METRICS_EXPORTER="${raw}" is not one of otlp, prometheus, none; using otlp`);
  return ['otlp', DEFAULT_SOURCE];
}

/**
 * A list, as the spec allows: `none` anywhere sends nothing (as sdk-node has it). otlp is the only
 * exporter there is, so anything else (`console`, a typo) is said and otlp used.
 */
function readLogsExporter(read: Read, warn: Warn): Sourced<LogsExporter> {
  const name = 'OTEL_LOGS_EXPORTER';
  const raw = read(name);
  if (raw === undefined) return ['otlp', DEFAULT_SOURCE];
  const list = readList(read, name) ?? [];
  const is = (value: string) => (item: string) => item.toLowerCase() === value;
  if (list.some(is('none'))) return ['none', name];
  const unknown = [...new Set(list.filter((item) => !is('otlp')(item)))];
  if (list.length === 0 || (list.length === 1 && unknown.length === 1)) {
    warn(`${name}="${raw}" is not one of otlp, none; using otlp`);
  } else if (unknown.length > 0) {
    const which = unknown.length === 1 ? 'which is not one' : 'which are not any';
    warn(`${name}="${raw}" has ${unknown.join(', ')}, ${which} of otlp, none; using otlp`);
  }
  return list.some(is('otlp')) ? ['otlp', name] : ['otlp', DEFAULT_SOURCE];
}

const SIGNAL_ENDPOINT = {
  traces: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  metrics: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  logs: 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
} as const;

function readEndpoint(read: Read, warn: Warn, protocol: Protocol, signal: keyof typeof SIGNAL_ENDPOINT): Sourced<string> {
  // The path goes before a query string or fragment, which stay as written.
  const withPath = (base: string) => {
    if (protocol === 'grpc') return base;
    const [, address = base, rest = ''] = /^([^?#]*)(.*)$/s.exec(base) ?? [];
    return `${address.replace(/\/+$/, '')}/v1/${signal}${rest}`;
  };
  const unusable: string[] = [];
  let chosen: Sourced<string> | undefined;
  for (const [name, signalSpecific] of [
    [SIGNAL_ENDPOINT[signal], true],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', false],
  ] as const) {
    // Both are read, so that an unusable general endpoint is said even where a signal's own one wins.
    const raw = read(name);
    if (raw === undefined) continue;
    const url = endpointUrl(raw);
    if (url === undefined) {
      unusable.push(`${name} (${raw.length} characters, not shown) does not parse as a URL`);
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      unusable.push(`${name}="${redactEndpoint(raw)}" is not an http:// or https:// URL`);
      continue;
    }
    if (chosen !== undefined) continue;
    if (url.text !== raw) warn(`${name}="${redactEndpoint(raw)}" has no scheme; using ${redactEndpoint(url.text)}`);
    // The signal-specific endpoint is the full URL already; the general one is a base (OTLP spec).
    chosen = [signalSpecific ? url.text : withPath(url.text), name];
  }
  const url = chosen ?? [withPath(`http://localhost:${DEFAULT_PORT[protocol]}`), DEFAULT_SOURCE];
  for (const problem of unusable) warn(`${problem}; using ${redactEndpoint(url[0])}`);
  return url;
}

/** The signal's own headers win per name over the general ones; the source names every variable that contributes. */
function mergeHeaders(general: Headers, specific: Headers): Sourced<Record<string, string>> {
  const contributing = [specific, general].filter((headers) => Object.keys(headers.headers).length > 0).map((headers) => headers.name);
  return [{ ...general.headers, ...specific.headers }, contributing.join(', ') || DEFAULT_SOURCE];
}

function clampBatch(read: Read, warn: Warn, name: string, batchSize: number, queue: Sourced<number>): Sourced<number> {
  const [queueSize, queueSource] = queue;
  if (read(name) !== undefined) {
    warn(`${name}="${batchSize}" is larger than the queue (${queueSize}); using ${queueSize}`);
  }
  return [queueSize, queueSource];
}

function readRatio(read: Read, warn: Warn, name: string): Sourced<number> {
  const raw = read(name);
  if (raw === undefined) return [1, DEFAULT_SOURCE];
  const value = Number(raw);
  if (!Number.isFinite(value)) warn(`${name}="${raw}" is not a number; using 1`);
  else if (value < 0 || value > 1) warn(`${name}="${raw}" is outside 0..1; using 1`);
  else return [value, name];
  return [1, DEFAULT_SOURCE];
}

function readSampler(read: Read, warn: Warn): Sourced<Config['traces']['sampler']> {
  const raw = read('OTEL_TRACES_SAMPLER');
  const standard = raw !== undefined && Object.hasOwn(SAMPLERS, raw.toLowerCase()) ? SAMPLERS[raw.toLowerCase()] : undefined;
  if (raw !== undefined && standard === undefined) {
    warn(`OTEL_TRACES_SAMPLER="${raw}" is not one of ${Object.keys(SAMPLERS).join(', ')}; using OTEL_SAMPLING_RATE`);
  }
  if (standard === undefined) {
    const [ratio, source] = readRatio(read, warn, 'OTEL_SAMPLING_RATE');
    return [{ ratio, parentBased: true }, source];
  }
  if (read('OTEL_SAMPLING_RATE') !== undefined) {
    warn(`OTEL_SAMPLING_RATE="${read('OTEL_SAMPLING_RATE')}" is ignored because OTEL_TRACES_SAMPLER="${raw}" is set`);
  }
  if (standard.ratio !== undefined) return [{ ratio: standard.ratio, parentBased: standard.parentBased }, 'OTEL_TRACES_SAMPLER'];
  const [ratio, source] = readRatio(read, warn, 'OTEL_TRACES_SAMPLER_ARG');
  return [
    { ratio, parentBased: standard.parentBased },
    source === DEFAULT_SOURCE ? 'OTEL_TRACES_SAMPLER' : 'OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG',
  ];
}

const UNKNOWN_INSTRUMENTATION: Why = {
  one: 'is not a known instrumentation (see the README for the names)',
  many: 'are not known instrumentations (see the README for the names)',
};
const RUNTIME_NODE: Why = {
  one: 'is loaded with metrics, not traces (OTEL_METRICS_EXPORTER)',
  many: 'are loaded with metrics, not traces (OTEL_METRICS_EXPORTER)',
};
const HOST_METRICS: Why = {
  one: "makes host metrics, which are the Collector's job (its hostmetrics receiver)",
  many: "make host metrics, which are the Collector's job (its hostmetrics receiver)",
};

function readInstrumentations(read: Read, warn: Warn): Sourced<string[]> {
  const known = new Set(INSTRUMENTATIONS.map((entry) => entry.name));
  const valid = (name: string, list: string[]) => {
    const bad: [string, Why][] = [];
    const kept = list.filter((item) => {
      if (known.has(item)) return true;
      if (item === 'runtime-node' && name === 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') return false;
      bad.push([
        item,
        item === 'runtime-node' ? RUNTIME_NODE : METRICS_ONLY_INSTRUMENTATIONS.includes(item) ? HOST_METRICS : UNKNOWN_INSTRUMENTATION,
      ]);
      return false;
    });
    const problem = entriesProblem(name, bad);
    if (problem) warn(problem);
    return kept;
  };
  const enabled = readList(read, 'OTEL_NODE_ENABLED_INSTRUMENTATIONS');
  const disabledList = readList(read, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS');
  const disabled = valid('OTEL_NODE_DISABLED_INSTRUMENTATIONS', disabledList ?? []);
  const chosen =
    enabled === undefined
      ? [...known].filter((name) => !NOISY_INSTRUMENTATIONS.includes(name))
      : valid('OTEL_NODE_ENABLED_INSTRUMENTATIONS', enabled);
  const sources = [
    ...(enabled === undefined ? [] : ['OTEL_NODE_ENABLED_INSTRUMENTATIONS']),
    ...(disabled.length > 0 ? ['OTEL_NODE_DISABLED_INSTRUMENTATIONS'] : []),
  ];
  return [chosen.filter((name) => !disabled.includes(name)), sources.join(', ') || DEFAULT_SOURCE];
}

function readDetectors(read: Read, warn: Warn): Sourced<string[]> {
  const name = 'OTEL_NODE_RESOURCE_DETECTORS';
  const list = readList(read, name);
  if (list === undefined) return [[...LOCAL_DETECTORS], DEFAULT_SOURCE];
  if (list.includes('none')) return [[], name];
  if (list.includes('all')) return [[...ALL_DETECTORS], name];
  const choices = `${ALL_DETECTORS.join(', ')}, all, none`;
  const why: Why = { one: `is not one of ${choices}`, many: `are not any of ${choices}` };
  const problem = entriesProblem(
    name,
    list.filter((item) => !ALL_DETECTORS.includes(item)).map((item) => [item, why]),
  );
  if (problem) warn(problem);
  return [list.filter((item) => ALL_DETECTORS.includes(item)), name];
}

function readUntracedPaths(read: Read, warn: Warn): Sourced<string[]> {
  const name = 'OTEL_NODE_UNTRACED_PATHS';
  const list = readList(read, name);
  if (list === undefined) return [[], DEFAULT_SOURCE];
  const why: Why = { one: 'does not start with /', many: 'do not start with /' };
  const problem = entriesProblem(
    name,
    list.filter((path) => !path.startsWith('/')).map((path) => [path, why]),
  );
  if (problem) warn(problem);
  return [list.filter((path) => path.startsWith('/')), name];
}

/** One span per request handler by default: a span per middleware and router is the noise users turn off first. */
function readExpressLayers(read: Read, warn: Warn): Sourced<ExpressLayer[]> {
  const name = 'OTEL_NODE_EXPRESS_LAYERS';
  const list = readList(read, name);
  if (list === undefined) return [['request_handler'], DEFAULT_SOURCE];
  if (list.includes('all')) return [[...EXPRESS_LAYERS], name];
  const isLayer = (item: string): item is ExpressLayer => (EXPRESS_LAYERS as readonly string[]).includes(item);
  const choices = `${EXPRESS_LAYERS.join(', ')}, all`;
  const why: Why = { one: `is not one of ${choices}`, many: `are not any of ${choices}` };
  const problem = entriesProblem(
    name,
    list.filter((item) => !isLayer(item)).map((item) => [item, why]),
  );
  if (problem) warn(problem);
  return [list.filter(isLayer), name];
}

/** Which of our own instrumentations give way to upstream's: `http` runs @opentelemetry/instrumentation-http for servers and clients. */
function readUpstreamInstrumentations(read: Read, warn: Warn): Sourced<LeanInstrumentation[]> {
  const name = 'OTEL_NODE_UPSTREAM_INSTRUMENTATIONS';
  const list = readList(read, name);
  if (list === undefined) return [[], DEFAULT_SOURCE];
  const isLean = (item: string): item is LeanInstrumentation => (LEAN_INSTRUMENTATIONS as readonly string[]).includes(item);
  const why: Why = {
    one: `has no instrumentation of ours to replace (${LEAN_INSTRUMENTATIONS.join(', ')} can)`,
    many: `have no instrumentation of ours to replace (${LEAN_INSTRUMENTATIONS.join(', ')} can)`,
  };
  const problem = entriesProblem(
    name,
    list.filter((item) => !isLean(item)).map((item) => [item, why]),
  );
  if (problem) warn(problem);
  return [list.filter(isLean), name];
}

function readLogLevel(read: Read, warn: Warn): Sourced<LogLevel> {
  const raw = read('OTEL_LOG_LEVEL');
  if (raw === undefined) return ['none', DEFAULT_SOURCE];
  const level = LOG_LEVELS.find((candidate) => candidate === raw.toLowerCase());
  if (level === undefined) warn(`OTEL_LOG_LEVEL="${raw}" is not one of ${LOG_LEVELS.join(', ')}; using none`);
  return level === undefined ? ['none', DEFAULT_SOURCE] : [level, 'OTEL_LOG_LEVEL'];
}
