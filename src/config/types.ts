// The configuration's shape, apart from how it is read: what parseConfig returns and the rest of the
// package reads, with where each value came from (`sources`) and which strings are credentials (`secrets`).
export type Protocol = 'grpc' | 'http/protobuf';
export type MetricsExporter = 'otlp' | 'prometheus' | 'none';
export type LogsExporter = 'otlp' | 'none';

/** Where one signal goes over OTLP. */
export interface ExporterOptions {
  readonly protocol: Protocol;
  /** For grpc the collector's address, for http/protobuf the full URL the signal is POSTed to. May hold credentials: print it through redactEndpoint. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMillis: number;
  /** gzip compresses every export. */
  readonly compression: Compression;
  /** PEM files for an https:// collector, as written (relative to the working directory); the exporter reads them. */
  readonly tls: TlsFiles;
}
export type Compression = 'gzip' | 'none';
/** A file as written in its variable, and the variable: a file that cannot be read is said by its variable. */
export interface TlsFile {
  readonly path: string;
  readonly variable: string;
}
export interface TlsFiles {
  /** The authority that signed the collector's certificate, when the system's do not know it. */
  readonly certificate?: TlsFile;
  /** A client certificate for mutual TLS: both or neither. */
  readonly clientKey?: TlsFile;
  readonly clientCertificate?: TlsFile;
}
export type LogLevel = 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';
export type ExpressLayer = 'request_handler' | 'router' | 'middleware';
export const EXPRESS_LAYERS: readonly ExpressLayer[] = ['request_handler', 'router', 'middleware'];
/** The instrumentations of ours that replace an upstream one, by the upstream one's short name. */
export type LeanInstrumentation = 'http' | 'express' | 'undici';
export const LEAN_INSTRUMENTATIONS: readonly LeanInstrumentation[] = ['http', 'express', 'undici'];

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
  readonly traces: {
    readonly otlp: ExporterOptions;
    /** Ratio 1 samples everything, 0 nothing; parentBased follows an incoming decision. */
    readonly sampler: { readonly ratio: number; readonly parentBased: boolean };
    readonly batch: {
      readonly maxQueueSize: number;
      readonly maxExportBatchSize: number;
      readonly scheduledDelayMillis: number;
      readonly exportTimeoutMillis: number;
    };
  };
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
  readonly logs: {
    /** `none` sends no logs: the logging instrumentations still put trace ids on the app's lines. */
    readonly exporter: LogsExporter;
    readonly otlp: ExporterOptions;
    readonly batch: {
      readonly maxQueueSize: number;
      readonly maxExportBatchSize: number;
      readonly scheduledDelayMillis: number;
      readonly exportTimeoutMillis: number;
    };
  };
  readonly instrumentations: readonly string[];
  readonly untracedPaths: readonly string[];
  /** The Express layers that get a span of their own; the route is on the server span either way. */
  readonly expressLayers: readonly ExpressLayer[];
  /** Instrumentations of ours run as upstream's instead, for an app that relies on one of upstream's hooks. */
  readonly upstreamInstrumentations: readonly LeanInstrumentation[];
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
  | 'traces.otlp.protocol'
  | 'traces.otlp.url'
  | 'traces.otlp.headers'
  | 'traces.otlp.timeoutMillis'
  | 'traces.otlp.compression'
  | 'traces.otlp.tls'
  | 'traces.sampler'
  | 'traces.batch.maxQueueSize'
  | 'traces.batch.maxExportBatchSize'
  | 'traces.batch.scheduledDelayMillis'
  | 'traces.batch.exportTimeoutMillis'
  | 'metrics.exporter'
  | 'metrics.otlp.protocol'
  | 'metrics.otlp.url'
  | 'metrics.otlp.headers'
  | 'metrics.otlp.timeoutMillis'
  | 'metrics.otlp.compression'
  | 'metrics.otlp.tls'
  | 'metrics.intervalMillis'
  | 'metrics.prometheus.host'
  | 'metrics.prometheus.port'
  | 'metrics.runtime'
  | 'logs.exporter'
  | 'logs.otlp.protocol'
  | 'logs.otlp.url'
  | 'logs.otlp.headers'
  | 'logs.otlp.timeoutMillis'
  | 'logs.otlp.compression'
  | 'logs.otlp.tls'
  | 'logs.batch.maxQueueSize'
  | 'logs.batch.maxExportBatchSize'
  | 'logs.batch.scheduledDelayMillis'
  | 'logs.batch.exportTimeoutMillis'
  | 'instrumentations'
  | 'untracedPaths'
  | 'expressLayers'
  | 'upstreamInstrumentations'
  | 'shutdownTimeoutMillis'
  | 'logLevel';

/** The source of a value no variable gave. */
export const DEFAULT_SOURCE = 'default';

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
  /** The variable each effective value came from (or two, joined by `, `, when both contribute), or `default` (DEFAULT_SOURCE). */
  readonly sources: Readonly<Record<ConfigSetting, string>>;
}
