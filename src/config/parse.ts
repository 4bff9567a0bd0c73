// The whole configuration, read from an env object: pure, never throws, and every value it could not
// use comes back as one warning naming the variable, the value and what is used instead. It is also
// the one place that knows which values are credentials (`secrets`) and where each value came from
// (`sources`), so that nothing else has to guess.
import { INSTRUMENTATIONS, METRICS_ONLY_INSTRUMENTATIONS, NOISY_INSTRUMENTATIONS } from '../instrument/catalogue.js';

export type Protocol = 'grpc' | 'http/protobuf';
export type MetricsExporter = 'otlp' | 'prometheus' | 'none';

/** Where one signal goes over OTLP. */
export interface ExporterOptions {
  readonly protocol: Protocol;
  /** For grpc the collector's address, for http/protobuf the full URL the signal is POSTed to. May hold credentials: print it through redactEndpoint. */
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
  /**
   * Undefined: none was set when the process started. Framework commands set NODE_ENV in their own code
   * (`next start` sets production), so it is read again as late as it can be: see environmentOf.
   */
  readonly environment: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, which the values above override. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly resourceDetectors: readonly string[];
  /** `process.command_args` in the resource: command lines carry secrets (`--db-password=…`), so only on request. */
  readonly resourceCommandArgs: boolean;
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

/** The settings `sources` names a variable for: the fields of Config, nested ones by their path. */
export type ConfigSetting =
  | 'enabled'
  | 'serviceName'
  | 'serviceVersion'
  | 'environment'
  | 'resourceAttributes'
  | 'resourceDetectors'
  | 'resourceCommandArgs'
  | 'exporter.protocol'
  | 'exporter.url'
  | 'exporter.headers'
  | 'exporter.timeoutMillis'
  | 'metrics.exporter'
  | 'metrics.otlp.protocol'
  | 'metrics.otlp.url'
  | 'metrics.otlp.headers'
  | 'metrics.otlp.timeoutMillis'
  | 'metrics.intervalMillis'
  | 'metrics.prometheus.host'
  | 'metrics.prometheus.port'
  | 'metrics.runtime'
  | 'sampler'
  | 'batch.maxQueueSize'
  | 'batch.maxExportBatchSize'
  | 'batch.scheduledDelayMillis'
  | 'batch.exportTimeoutMillis'
  | 'instrumentations'
  | 'untracedPaths'
  | 'expressLayers'
  | 'shutdownTimeoutMillis'
  | 'logLevel';

export interface ConfigResult {
  readonly config: Config;
  /** What the preload prints. While tracing is off, only those about turning it on. */
  readonly warnings: readonly string[];
  /** The other warnings, held back while tracing is off (other tools share the OTEL_ namespace); doctor shows them. */
  readonly silenced: readonly string[];
  /**
   * Every string of the configuration that is or may hold a credential, in the forms it could be
   * printed in: header values (raw and percent-decoded), malformed header entries and names, URL
   * userinfo, query strings and fragments. Anything that prints text derived from the configuration
   * replaces these with `***` (log.ts `hide`, doctor). Strings shorter than SECRET_MIN_LENGTH are left
   * out: they are never echoed anyway, and replacing them everywhere garbles the output, for values that
   * are no credential (`dd-protocol=otlp`, a Honeycomb dataset named like the service) most of all.
   */
  readonly secrets: readonly string[];
  /** The variable each effective value came from (or two, joined by `, `, when both contribute), or `default`. */
  readonly sources: Readonly<Record<ConfigSetting, string>>;
}

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_SOURCE = 'default';
export const SECRET_MIN_LENGTH = 8;
/** Header names that say their value is a credential (authorization, x-api-key, dd-api-key, x-honeycomb-team, …). */
const CREDENTIAL_NAME = /auth|key|token|secret|pass|team|dsn|signature|cookie/i;
const CREDENTIAL_MIN_LENGTH = 4;
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
const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** A value and the variable it came from. */
type Sourced<T> = readonly [value: T, source: string];

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
  const batchQueue = readInteger(read, warn, 'OTEL_BSP_MAX_QUEUE_SIZE', [2048, DEFAULT_SOURCE]);
  const batchSize = readInteger(read, warn, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', [512, DEFAULT_SOURCE]);
  const generalHeaders = readHeaders(read, 'OTEL_EXPORTER_OTLP_HEADERS', warn);
  const generalTimeout = readInteger(read, warn, 'OTEL_EXPORTER_OTLP_TIMEOUT', [10000, DEFAULT_SOURCE]);
  const disabledInstrumentations = readList(read, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? [];

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
    exporter: Object.freeze({
      protocol: from('exporter.protocol', protocol),
      url: from('exporter.url', readEndpoint(read, warn, protocol[0], 'traces')),
      headers: Object.freeze(
        from('exporter.headers', mergeHeaders(generalHeaders, readHeaders(read, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', warn))),
      ),
      timeoutMillis: from('exporter.timeoutMillis', readInteger(read, warn, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', generalTimeout)),
    }),
    metrics: Object.freeze({
      exporter: from('metrics.exporter', readMetricsExporter(read, warn)),
      otlp: Object.freeze({
        protocol: from('metrics.otlp.protocol', metricsProtocol),
        // A bad general endpoint was explained for traces already.
        url: from(
          'metrics.otlp.url',
          readEndpoint(
            read,
            (message) => message.startsWith('OTEL_EXPORTER_OTLP_ENDPOINT') || warn(message),
            metricsProtocol[0],
            'metrics',
          ),
        ),
        headers: Object.freeze(
          from('metrics.otlp.headers', mergeHeaders(generalHeaders, readHeaders(read, 'OTEL_EXPORTER_OTLP_METRICS_HEADERS', warn))),
        ),
        timeoutMillis: from('metrics.otlp.timeoutMillis', readInteger(read, warn, 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', generalTimeout)),
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
    sampler: Object.freeze(from('sampler', readSampler(read, warn))),
    batch: Object.freeze({
      maxQueueSize: from('batch.maxQueueSize', batchQueue),
      maxExportBatchSize: from(
        'batch.maxExportBatchSize',
        batchSize[0] > batchQueue[0] ? clampBatch(read, warn, batchSize[0], batchQueue) : batchSize,
      ),
      scheduledDelayMillis: from(
        'batch.scheduledDelayMillis',
        readInteger(read, warn, 'OTEL_BSP_SCHEDULE_DELAY', [5000, DEFAULT_SOURCE], 0),
      ),
      exportTimeoutMillis: from('batch.exportTimeoutMillis', readInteger(read, warn, 'OTEL_BSP_EXPORT_TIMEOUT', [30000, DEFAULT_SOURCE])),
    }),
    instrumentations: Object.freeze(from('instrumentations', readInstrumentations(read, warn))),
    untracedPaths: Object.freeze(from('untracedPaths', readUntracedPaths(read, warn))),
    expressLayers: Object.freeze(from('expressLayers', readExpressLayers(read, warn))),
    shutdownTimeoutMillis: from('shutdownTimeoutMillis', readInteger(read, warn, 'OTEL_SHUTDOWN_TIMEOUT_MS', [5000, DEFAULT_SOURCE])),
    logLevel: from('logLevel', readLogLevel(read, warn)),
  };
  // Other tools share the OTEL_ namespace: complain about it only when we are the ones reading it.
  const aboutEnabling = (w: string) => w.startsWith('OTEL_ENABLED') || w.startsWith('OTEL_SDK_DISABLED');
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

type Read = (name: string) => string | undefined;
type Warn = (message: string) => void;

function readEnabled(read: Read, warn: Warn): Sourced<boolean> {
  const disabled = read('OTEL_SDK_DISABLED');
  if (disabled !== undefined) {
    const value = disabled.toLowerCase();
    if (value === 'true') return [false, 'OTEL_SDK_DISABLED'];
    if (value !== 'false') warn(`OTEL_SDK_DISABLED="${disabled}" is neither true nor false; ignoring it`);
  }
  const raw = read('OTEL_ENABLED');
  if (raw === undefined) return [false, DEFAULT_SOURCE];
  const value = raw.toLowerCase();
  if (TRUE.includes(value)) return [true, 'OTEL_ENABLED'];
  if (FALSE.includes(value)) return [false, 'OTEL_ENABLED'];
  warn(`OTEL_ENABLED="${raw}" is not one of true/1/yes/on or false/0/no/off; tracing stays off`);
  return [false, DEFAULT_SOURCE];
}

function readBoolean(read: Read, warn: Warn, name: string, otherwise: string): Sourced<boolean> {
  const raw = read(name);
  if (raw === undefined) return [false, DEFAULT_SOURCE];
  const value = raw.toLowerCase();
  if (TRUE.includes(value)) return [true, name];
  if (FALSE.includes(value)) return [false, name];
  warn(`${name}="${raw}" is not one of true/1/yes/on or false/0/no/off; ${otherwise}`);
  return [false, DEFAULT_SOURCE];
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

function readMetricsExporter(read: Read, warn: Warn): Sourced<MetricsExporter> {
  const raw = read('OTEL_METRICS_EXPORTER');
  if (raw === undefined) return ['otlp', DEFAULT_SOURCE];
  const value = raw.toLowerCase();
  if (value === 'otlp' || value === 'prometheus' || value === 'none') return [value, 'OTEL_METRICS_EXPORTER'];
  warn(`OTEL_METRICS_EXPORTER="${raw}" is not one of otlp, prometheus, none; using otlp`);
  return ['otlp', DEFAULT_SOURCE];
}

const SIGNAL_ENDPOINT = { traces: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', metrics: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT' } as const;
const ENDPOINTS = ['OTEL_EXPORTER_OTLP_ENDPOINT', SIGNAL_ENDPOINT.traces, SIGNAL_ENDPOINT.metrics];

function readEndpoint(read: Read, warn: Warn, protocol: Protocol, signal: 'traces' | 'metrics'): Sourced<string> {
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

/** The endpoint as written, `http://` added when it has no scheme; undefined when it is no URL at all. */
function endpointUrl(raw: string): { text: string; protocol: string } | undefined {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  try {
    return { text, protocol: new URL(text).protocol };
  } catch {
    return undefined;
  }
}

/**
 * scheme, address (host and path, userinfo before the last @ in them), query, fragment; matches any
 * string. An @ in the path counts too: `http:/user:pw@host`, one slash short, must not show the password.
 */
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)?([^?#]*)(\?[^#]*)?(#.*)?$/is;

/**
 * An endpoint as it may be printed: scheme://host:port/path, with `***` for the userinfo, the query
 * string and the fragment, which may hold credentials (`https://***@collector:4318/v1/traces?***`).
 * Works on any string, URL or not.
 */
export function redactEndpoint(url: string): string {
  const [, scheme = '', address = '', query = '', fragment = ''] = URL_PARTS.exec(url) ?? [];
  const at = address.lastIndexOf('@');
  return `${scheme}${at === -1 ? address : `***@${address.slice(at + 1)}`}${query ? '?***' : ''}${fragment ? '#***' : ''}`;
}

/** `k=v,k2=v2` with percent-encoded values (W3C baggage style), the malformed entries in one warning. */
function readKeyValues(read: Read, name: string, warn: Warn): Record<string, string> {
  const raw = read(name);
  if (raw === undefined) return {};
  const entries: [string, string][] = [];
  const malformed: string[] = [];
  for (const item of raw.split(',')) {
    if (item.trim() === '') continue;
    const separator = item.indexOf('=');
    const key = item.slice(0, separator).trim();
    if (separator < 1 || key === '') {
      malformed.push(item.trim());
      continue;
    }
    entries.push([key, decode(item.slice(separator + 1).trim())]);
  }
  const problem = entriesProblem(
    name,
    malformed.map((item) => [item, NOT_KEY_VALUE]),
  );
  if (problem) warn(problem);
  // fromEntries defines every key as data, `__proto__` included, where assignment would not.
  return Object.fromEntries(entries);
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** How to say what is wrong with one entry of a list, or several for the same reason. */
interface Why {
  readonly one: string;
  readonly many: string;
}

const NOT_KEY_VALUE: Why = { one: 'is not key=value', many: 'are not key=value' };

/**
 * One line for every unusable entry of one variable, grouped by what is wrong with them:
 * `NAME entries "a", "b" are not …; entry "c" is …; ignoring them`. Undefined when there is none.
 */
function entriesProblem(name: string, bad: readonly (readonly [entry: string, why: Why])[]): string | undefined {
  const groups = new Map<Why, string[]>();
  for (const [entry, why] of bad) {
    const group = groups.get(why) ?? [];
    if (!group.includes(entry)) group.push(entry);
    groups.set(why, group);
  }
  if (groups.size === 0) return undefined;
  const count = [...groups.values()].reduce((total, group) => total + group.length, 0);
  const parts = [...groups].map(([why, entries]) =>
    entries.length === 1 ? `entry "${entries[0]}" ${why.one}` : `entries ${entries.map((entry) => `"${entry}"`).join(', ')} ${why.many}`,
  );
  return `${name} ${parts.join('; ')}; ignoring ${count === 1 ? 'it' : 'them'}`;
}

/** Node's timers and buffers take at most 2^31-1; larger values would quietly mean 1. */
const MAX_INTEGER = 2 ** 31 - 1;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

interface Headers {
  readonly name: string;
  readonly headers: Record<string, string>;
}

/**
 * Header names are HTTP tokens, lower-case for gRPC metadata; a bad one would fail every export.
 * Nothing of the variable is ever echoed, names included (`Authorization: Basic …` puts the
 * credential in the "name"): an unusable entry is told by its position and length.
 */
function readHeaders(read: Read, name: string, warn: Warn): Headers {
  const raw = read(name);
  if (raw === undefined) return { name, headers: {} };
  const entries: [string, string][] = [];
  const unusable: string[] = [];
  raw.split(',').forEach((item, index) => {
    const entry = item.trim();
    if (entry === '') return;
    const separator = entry.indexOf('=');
    const key = entry.slice(0, separator).trim();
    if (separator < 1 || !HEADER_NAME.test(key)) {
      unusable.push(`${index + 1} (${entry.length} characters)`);
      return;
    }
    entries.push([key.toLowerCase(), decode(entry.slice(separator + 1).trim())]);
  });
  if (unusable.length > 0) {
    const which =
      unusable.length === 1 ? `entry ${unusable[0]} is` : `entries ${unusable.slice(0, -1).join(', ')} and ${unusable.at(-1)} are`;
    warn(
      `${name} ${which} not name=value with a valid HTTP header name (letters, digits, -; no spaces or colons); ignoring ${unusable.length === 1 ? 'it' : 'them'}`,
    );
  }
  return { name, headers: Object.fromEntries(entries) };
}

/** The signal's own headers win per name over the general ones; the source names every variable that contributes. */
function mergeHeaders(general: Headers, specific: Headers): Sourced<Record<string, string>> {
  const contributing = [specific, general].filter((headers) => Object.keys(headers.headers).length > 0).map((headers) => headers.name);
  return [{ ...general.headers, ...specific.headers }, contributing.join(', ') || DEFAULT_SOURCE];
}

/**
 * Every credential the variables hold, in each form it may be printed in: as written, percent-decoded,
 * percent-encoded (a URL parser encodes its userinfo), and the pieces a malformed header entry falls
 * into (`Authorization: Basic dXNl…` → `dXNl…`). Read from the raw variables, used or not.
 */
function secretsOf(read: Read): string[] {
  const found = new Set<string>();
  const add = (value: string | undefined, minLength = SECRET_MIN_LENGTH) => {
    for (const form of [value, value && decode(value), value && encodeURIComponent(value)]) {
      const text = form?.trim();
      if (text && text.length >= minLength) found.add(text);
    }
  };
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS']) {
    for (const item of read(name)?.split(',') ?? []) {
      const entry = item.trim();
      const separator = entry.indexOf('=');
      const key = separator === -1 ? '' : entry.slice(0, separator).trim();
      const value = entry.slice(separator + 1).trim();
      // A collector may echo a rejected key in its answer, which the failure line quotes: under a
      // credential's name, a short value is hidden too.
      add(value, CREDENTIAL_NAME.test(key) ? CREDENTIAL_MIN_LENGTH : SECRET_MIN_LENGTH);
      // The OpenTelemetry exporters read the variable too, and end a value at `;` (baggage properties).
      add(value.split(';')[0]);
      if (separator >= 1 && HEADER_NAME.test(key)) continue;
      // Malformed: any of it may be the credential.
      add(entry);
      add(key);
      for (const piece of entry.split(/[\s:=;]+/)) add(piece);
    }
  }
  for (const name of ENDPOINTS) {
    const raw = read(name);
    if (raw === undefined) continue;
    const [, , address = '', query = '', fragment = ''] = URL_PARTS.exec(raw) ?? [];
    const userinfo = address.slice(0, Math.max(0, address.lastIndexOf('@')));
    add(userinfo);
    // User and password, and not a scheme written with one slash.
    for (const piece of userinfo.slice(userinfo.lastIndexOf('/') + 1).split(':')) add(piece);
    add(query.slice(1));
    for (const parameter of query.slice(1).split('&')) add(parameter.slice(parameter.indexOf('=') + 1));
    add(fragment.slice(1));
    // A URL parser's own encoding of the same parts.
    try {
      const url = new URL(endpointUrl(raw)?.text ?? raw);
      for (const part of [url.username, url.password, url.search.slice(1), url.hash.slice(1)]) add(part);
    } catch {
      // Not a URL at all: none of it is ever printed, and the whole of it is hidden.
      add(raw);
    }
  }
  // The longest first, so that one containing another is replaced whole.
  return [...found].sort((a, b) => b.length - a.length);
}

function readInteger(read: Read, warn: Warn, name: string, fallback: Sourced<number>, min = 1, max = MAX_INTEGER): Sourced<number> {
  const raw = read(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (Number.isInteger(value) && value >= min && value <= max) return [value, name];
  const problem = Number.isInteger(value) && value > max ? `is larger than ${max}` : `is not a whole number ≥ ${min}`;
  warn(`${name}="${raw}" ${problem}; using ${fallback[0]}`);
  return fallback;
}

function clampBatch(read: Read, warn: Warn, batchSize: number, queue: Sourced<number>): Sourced<number> {
  const [queueSize, queueSource] = queue;
  if (read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') !== undefined) {
    warn(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE="${batchSize}" is larger than the queue (${queueSize}); using ${queueSize}`);
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

function readSampler(read: Read, warn: Warn): Sourced<Config['sampler']> {
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

function readList(read: Read, name: string): string[] | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
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

export type ExpressLayer = 'request_handler' | 'router' | 'middleware';
export const EXPRESS_LAYERS: readonly ExpressLayer[] = ['request_handler', 'router', 'middleware'];

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

function readLogLevel(read: Read, warn: Warn): Sourced<LogLevel> {
  const raw = read('OTEL_LOG_LEVEL');
  if (raw === undefined) return ['none', DEFAULT_SOURCE];
  const level = LOG_LEVELS.find((candidate) => candidate === raw.toLowerCase());
  if (level === undefined) warn(`OTEL_LOG_LEVEL="${raw}" is not one of ${LOG_LEVELS.join(', ')}; using none`);
  return level === undefined ? ['none', DEFAULT_SOURCE] : [level, 'OTEL_LOG_LEVEL'];
}
