// Which instrumentation packages exist, what module each one patches, and loading them one by one:
// the auto-instrumentations-node index requires all ~40 at once, which costs hundreds of ms at start.
import { createRequire, isBuiltin } from 'node:module';
import { isAbsolute, sep } from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { sayOnce } from '../log.js';

export interface InstrumentationEntry {
  /** Short name, as in OTEL_NODE_ENABLED_INSTRUMENTATIONS (`@opentelemetry/instrumentation-<name>`). */
  readonly name: string;
  readonly exportName: string;
  /** Modules it patches; it is loaded only when the app can resolve one of them. */
  readonly modules: readonly string[];
}

const entry = (name: string, exportName: string, modules: string[]): InstrumentationEntry => ({ name, exportName, modules });

/** The tracing instrumentations of @opentelemetry/auto-instrumentations-node, same short names. */
export const INSTRUMENTATIONS: readonly InstrumentationEntry[] = [
  entry('amqplib', 'AmqplibInstrumentation', ['amqplib']),
  entry('aws-lambda', 'AwsLambdaInstrumentation', []),
  entry('aws-sdk', 'AwsInstrumentation', [
    '@aws-sdk/middleware-stack',
    '@smithy/middleware-stack',
    '@smithy/core',
    '@aws-sdk/smithy-client',
    '@smithy/smithy-client',
  ]),
  entry('bunyan', 'BunyanInstrumentation', ['bunyan']),
  entry('cassandra-driver', 'CassandraDriverInstrumentation', ['cassandra-driver']),
  entry('connect', 'ConnectInstrumentation', ['connect']),
  entry('cucumber', 'CucumberInstrumentation', ['@cucumber/cucumber']),
  entry('dataloader', 'DataloaderInstrumentation', ['dataloader']),
  entry('dns', 'DnsInstrumentation', ['dns', 'dns/promises']),
  entry('express', 'ExpressInstrumentation', ['express']),
  entry('fs', 'FsInstrumentation', ['fs', 'fs/promises']),
  entry('generic-pool', 'GenericPoolInstrumentation', ['generic-pool']),
  entry('graphql', 'GraphQLInstrumentation', ['graphql']),
  entry('grpc', 'GrpcInstrumentation', ['@grpc/grpc-js']),
  entry('hapi', 'HapiInstrumentation', ['@hapi/hapi']),
  entry('http', 'HttpInstrumentation', ['http', 'https']),
  entry('ioredis', 'IORedisInstrumentation', ['ioredis']),
  entry('kafkajs', 'KafkaJsInstrumentation', ['kafkajs']),
  entry('knex', 'KnexInstrumentation', ['knex']),
  entry('koa', 'KoaInstrumentation', ['koa']),
  entry('lru-memoizer', 'LruMemoizerInstrumentation', ['lru-memoizer']),
  entry('memcached', 'MemcachedInstrumentation', ['memcached']),
  entry('mongodb', 'MongoDBInstrumentation', ['mongodb']),
  entry('mongoose', 'MongooseInstrumentation', ['mongoose']),
  entry('mysql', 'MySQLInstrumentation', ['mysql']),
  entry('mysql2', 'MySQL2Instrumentation', ['mysql2']),
  entry('nestjs-core', 'NestInstrumentation', ['@nestjs/core']),
  entry('net', 'NetInstrumentation', ['net']),
  entry('openai', 'OpenAIInstrumentation', ['openai']),
  entry('oracledb', 'OracleInstrumentation', ['oracledb']),
  entry('pg', 'PgInstrumentation', ['pg', 'pg-pool']),
  entry('pino', 'PinoInstrumentation', ['pino']),
  entry('redis', 'RedisInstrumentation', ['redis', '@redis/client', '@node-redis/client']),
  entry('restify', 'RestifyInstrumentation', ['restify']),
  entry('router', 'RouterInstrumentation', ['router']),
  entry('socket.io', 'SocketIoInstrumentation', ['socket.io']),
  entry('tedious', 'TediousInstrumentation', ['tedious']),
  entry('undici', 'UndiciInstrumentation', []),
  entry('winston', 'WinstonInstrumentation', ['winston']),
];

/**
 * Off unless named in OTEL_NODE_ENABLED_INSTRUMENTATIONS: a span per file read, DNS lookup or
 * socket buries the request spans users look for and costs more than it tells.
 */
export const NOISY_INSTRUMENTATIONS: readonly string[] = ['fs', 'dns', 'net'];

/**
 * Instrumentations whose patch returns a new module instead of changing the one it is given (pino's
 * and bunyan's wrap the logger factory): an `import` of their module gets that new module only
 * through the ES module hook, so their presence means the hook is registered.
 */
export const REPLACING_INSTRUMENTATIONS: readonly string[] = ['bunyan', 'pino'];

/**
 * Metrics-only packages of auto-instrumentations-node, not in the table above: runtime-node is loaded
 * with the metrics (preload/metrics.ts), host metrics are left to the Collector's hostmetrics receiver.
 */
export const METRICS_ONLY_INSTRUMENTATIONS: readonly string[] = ['host-metrics', 'runtime-node'];

/**
 * Each entry's package exports, by name: a literal require each, so that the build gives every package
 * a file of its own, and apart from the table so that importing the names loads none of them.
 */
const PACKAGES: Readonly<Record<string, () => Record<string, unknown>>> = {
  amqplib: () => require('@opentelemetry/instrumentation-amqplib'),
  'aws-lambda': () => require('@opentelemetry/instrumentation-aws-lambda'),
  'aws-sdk': () => require('@opentelemetry/instrumentation-aws-sdk'),
  bunyan: () => require('@opentelemetry/instrumentation-bunyan'),
  'cassandra-driver': () => require('@opentelemetry/instrumentation-cassandra-driver'),
  connect: () => require('@opentelemetry/instrumentation-connect'),
  cucumber: () => require('@opentelemetry/instrumentation-cucumber'),
  dataloader: () => require('@opentelemetry/instrumentation-dataloader'),
  dns: () => require('@opentelemetry/instrumentation-dns'),
  express: () => require('@opentelemetry/instrumentation-express'),
  fs: () => require('@opentelemetry/instrumentation-fs'),
  'generic-pool': () => require('@opentelemetry/instrumentation-generic-pool'),
  graphql: () => require('@opentelemetry/instrumentation-graphql'),
  grpc: () => require('@opentelemetry/instrumentation-grpc'),
  hapi: () => require('@opentelemetry/instrumentation-hapi'),
  http: () => require('@opentelemetry/instrumentation-http'),
  ioredis: () => require('@opentelemetry/instrumentation-ioredis'),
  kafkajs: () => require('@opentelemetry/instrumentation-kafkajs'),
  knex: () => require('@opentelemetry/instrumentation-knex'),
  koa: () => require('@opentelemetry/instrumentation-koa'),
  'lru-memoizer': () => require('@opentelemetry/instrumentation-lru-memoizer'),
  memcached: () => require('@opentelemetry/instrumentation-memcached'),
  mongodb: () => require('@opentelemetry/instrumentation-mongodb'),
  mongoose: () => require('@opentelemetry/instrumentation-mongoose'),
  mysql: () => require('@opentelemetry/instrumentation-mysql'),
  mysql2: () => require('@opentelemetry/instrumentation-mysql2'),
  'nestjs-core': () => require('@opentelemetry/instrumentation-nestjs-core'),
  net: () => require('@opentelemetry/instrumentation-net'),
  openai: () => require('@opentelemetry/instrumentation-openai'),
  oracledb: () => require('@opentelemetry/instrumentation-oracledb'),
  pg: () => require('@opentelemetry/instrumentation-pg'),
  pino: () => require('@opentelemetry/instrumentation-pino'),
  redis: () => require('@opentelemetry/instrumentation-redis'),
  restify: () => require('@opentelemetry/instrumentation-restify'),
  router: () => require('@opentelemetry/instrumentation-router'),
  'socket.io': () => require('@opentelemetry/instrumentation-socket.io'),
  tedious: () => require('@opentelemetry/instrumentation-tedious'),
  undici: () => require('@opentelemetry/instrumentation-undici'),
  winston: () => require('@opentelemetry/instrumentation-winston'),
};

export function packageOf(entry: InstrumentationEntry): string {
  return `@opentelemetry/instrumentation-${entry.name}`;
}

/**
 * Whether an app resolving modules from `fromFile` would find one of the entry's modules.
 * An entry with no modules hooks into Node itself (fetch, Lambda) and always applies, except
 * aws-lambda, which only means something inside Lambda.
 */
export function appliesTo(entry: InstrumentationEntry, resolve: (id: string) => unknown, env: NodeJS.ProcessEnv): boolean {
  if (entry.name === 'aws-lambda') return env.LAMBDA_TASK_ROOT !== undefined && env._HANDLER !== undefined;
  if (entry.modules.length === 0) return true;
  return entry.modules.some((id) => canResolve(id, resolve));
}

function canResolve(id: string, resolve: (id: string) => unknown): boolean {
  try {
    resolve(id);
    return true;
  } catch (error) {
    // An ESM-only package has no `require` export, yet it is there for the app's imports.
    return (error as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
  }
}

/**
 * Modules that are resolvable mostly as someone else's dependency, so they count only where the app's
 * package.json names them: our own gRPC exporter installs @grpc/grpc-js, and Express 5 routes through
 * `router`, whose spans would duplicate the Express instrumentation's ("middleware - patched").
 */
const DECLARED_ONLY = ['@grpc/grpc-js', 'router'];

function undeclared(entry: InstrumentationEntry, declared: readonly string[]): boolean {
  return entry.modules.length > 0 && entry.modules.every((id) => DECLARED_ONLY.includes(id) && !declared.includes(id));
}

export interface LoadedInstrumentations {
  /** Every instrumentation that applies, loaded now or armed to load with its module. */
  readonly names: string[];
  readonly failures: string[];
}

/** The named instrumentations that apply to the app at `appEntry`, whose package.json declares `declared`. */
export function applicableInstrumentations(
  names: readonly string[],
  appEntry: string,
  declared: readonly string[],
  env: NodeJS.ProcessEnv,
): InstrumentationEntry[] {
  const resolveFromApp = createRequire(appEntry).resolve;
  return INSTRUMENTATIONS.filter(
    (entry) => names.includes(entry.name) && appliesTo(entry, resolveFromApp, env) && !undeclared(entry, declared),
  );
}

/** Whether one of these is patched by replacing its module (REPLACING_INSTRUMENTATIONS). */
export function replacesModules(entries: readonly InstrumentationEntry[]): boolean {
  return entries.some((entry) => REPLACING_INSTRUMENTATIONS.includes(entry.name));
}

/**
 * Constructs the instrumentations that apply and hands them to `enable`. With `onDemand`, one whose
 * modules are packages is loaded only when the app first requires one of them: an app that has pg
 * installed but requires it late, or never, does not pay for its instrumentation at start. The
 * require hook that triggers it sits under the instrumentations' own, so they see that very require.
 */
export function loadInstrumentations(
  entries: readonly InstrumentationEntry[],
  onDemand: boolean,
  configFor: (name: string) => object,
  enable: (instances: Instrumentation[]) => void,
): LoadedInstrumentations {
  const failures: string[] = [];
  const failed = new Set<InstrumentationEntry>();
  const load = (entry: InstrumentationEntry): Instrumentation | undefined => {
    try {
      const Constructor = PACKAGES[entry.name]?.()[entry.exportName] as new (config: object) => Instrumentation;
      return new Constructor(configFor(entry.name));
    } catch (error) {
      failed.add(entry);
      failures.push(`${entry.name} (${(error as Error).message.split('\n')[0]})`);
      return undefined;
    }
  };
  const later = onDemand ? entries.filter((entry) => entry.modules.length > 0 && !entry.modules.some((id) => isBuiltin(id))) : [];
  if (later.length > 0) {
    loadWithModules(later, (entry) => {
      const instance = load(entry);
      if (instance) enable([instance]);
      else sayOnce(`instrumentation ${failures.at(-1)} could not be loaded; its spans are missing`);
    });
  }
  const now = entries.filter((entry) => !later.includes(entry)).flatMap((entry) => load(entry) ?? []);
  enable(now);
  const names = entries.filter((entry) => !failed.has(entry)).map((entry) => entry.name);
  return { names, failures };
}

/** Calls `load` once per entry, when the app first requires one of its modules (or a file in one). */
function loadWithModules(entries: readonly InstrumentationEntry[], load: (entry: InstrumentationEntry) => void): void {
  const waiting = new Map(entries.flatMap((entry) => entry.modules.map((id) => [id, entry] as const)));
  const Module = require('node:module') as { prototype: { require(id: string): unknown } };
  const require_ = Module.prototype.require;
  Module.prototype.require = function (this: unknown, id: string) {
    const entry = waiting.size > 0 ? (waiting.get(id) ?? waiting.get(packageName(id) ?? '')) : undefined;
    if (entry) {
      for (const module of entry.modules) waiting.delete(module);
      load(entry);
    }
    // biome-ignore lint/complexity/noArguments: forwarded as it is
    return Reflect.apply(require_, this, arguments);
  };
}

/** The package a require names: `pg` for `pg/lib/client`, and for a file path inside node_modules. */
export function packageName(id: string): string | undefined {
  const marker = `${sep}node_modules${sep}`;
  const inModules = id.lastIndexOf(marker);
  const bare = inModules >= 0 ? id.slice(inModules + marker.length) : isAbsolute(id) || id.startsWith('.') ? undefined : id;
  const [first = '', second = ''] = bare?.split(/[\\/]/) ?? [];
  return first.startsWith('@') ? `${first}/${second}` : first || undefined;
}
