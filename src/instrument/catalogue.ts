// Which instrumentation packages exist, what module each one patches, and which of them apply to an
// app: the ones whose modules it has. Loading them is load.ts's part.
import { statSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { join } from 'node:path';

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

export function packageOf(entry: InstrumentationEntry): `@opentelemetry/instrumentation-${string}` {
  return `@opentelemetry/instrumentation-${entry.name}`;
}

/**
 * Whether the app has one of the entry's modules (`isInstalled`, from `packageFinder`). An entry
 * with no modules hooks into Node itself (fetch, Lambda) and always applies, except aws-lambda,
 * which only means something inside Lambda.
 */
export function appliesTo(entry: InstrumentationEntry, isInstalled: (id: string) => boolean, env: NodeJS.ProcessEnv): boolean {
  if (entry.name === 'aws-lambda') return env.LAMBDA_TASK_ROOT !== undefined && env._HANDLER !== undefined;
  if (entry.modules.length === 0) return true;
  return entry.modules.some(isInstalled);
}

/**
 * Whether an app at `appEntry` would find a package: a built-in module, or a package.json under
 * its name in one of the folders `require` looks in (every `node_modules` up the tree, NODE_PATH,
 * the global folders). One `stat` a folder: `require.resolve` of the ~45 candidate modules (a thrown
 * error and four file probes a folder for each missing one, the package's `exports` for each present
 * one) took ~11 ms in a process of its own, this 4–5. Under Yarn Plug'n'Play, where packages are in no folder,
 * `require.resolve` still decides; an ES-module-only package, which has no `require` export, is there
 * for the app's imports all the same.
 */
export function packageFinder(appEntry: string): (id: string) => boolean {
  const requireFromApp = createRequire(appEntry);
  if (process.versions.pnp !== undefined) {
    return (id) => {
      try {
        requireFromApp.resolve(id);
        return true;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
      }
    };
  }
  const folders = requireFromApp.resolve.paths('package') ?? [];
  return (id) => isBuiltin(id) || folders.some((folder) => isFile(join(folder, id, 'package.json')));
}

/** As `require` takes a folder it cannot read (another user's home, NODE_PATH naming a file): as holding nothing. */
function isFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/**
 * Modules that are resolvable mostly as someone else's dependency, so they count only where the app's
 * package.json names them: @grpc/grpc-js, which upstream's OTLP gRPC exporters install next to the app
 * (ours, in the export thread, is node:http2), and `router`, which Express 5 routes through, whose spans
 * would duplicate the Express instrumentation's ("middleware - patched").
 */
const DECLARED_ONLY = ['@grpc/grpc-js', 'router'];

function undeclared(entry: InstrumentationEntry, declared: readonly string[]): boolean {
  return entry.modules.length > 0 && entry.modules.every((id) => DECLARED_ONLY.includes(id) && !declared.includes(id));
}

/** The named instrumentations that apply to the app at `appEntry`, whose package.json declares `declared`. */
export function applicableInstrumentations(
  names: readonly string[],
  appEntry: string,
  declared: readonly string[],
  env: NodeJS.ProcessEnv,
): InstrumentationEntry[] {
  const isInstalled = packageFinder(appEntry);
  return INSTRUMENTATIONS.filter(
    (entry) => names.includes(entry.name) && appliesTo(entry, isInstalled, env) && !undeclared(entry, declared),
  );
}

/** Whether one of these is patched by replacing its module (REPLACING_INSTRUMENTATIONS). */
export function replacesModules(entries: readonly InstrumentationEntry[]): boolean {
  return entries.some((entry) => REPLACING_INSTRUMENTATIONS.includes(entry.name));
}
