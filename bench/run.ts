// `npm run bench`: @rustok/otel against bare node, the official register and Elastic's EDOT, in one
// run on one machine, variants alternated so that drift spreads evenly. Prints Markdown tables.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startReceiver } from '../src/receiver/otlp-receiver.js';
import { installServerPackages, startPostgres, stopServers } from '../test/helpers/services.js';
import { startTarget } from '../test/helpers/target.js';

const BENCH = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(BENCH, '..');
const STARTUP_RUNS = Number(process.env.STARTUP_RUNS ?? 7);
const LOAD_SECONDS = Number(process.env.LOAD_SECONDS ?? 8);
const LOAD_ROUNDS = Number(process.env.LOAD_ROUNDS ?? 2);
/** The logging service's throughput differs from round to round by more than the 10 % it is held to: more rounds, compared pairwise. */
const LOG_THROUGHPUT_ROUNDS = Number(process.env.LOG_THROUGHPUT_ROUNDS ?? 6);

// Install the package the way a user would, next to the peers (which `npm run bench` installed).
mkdirSync(join(ROOT, '.work'), { recursive: true });
const [packed] = JSON.parse(
  execFileSync('npm', ['pack', '--json', '--pack-destination', join(ROOT, '.work')], { cwd: ROOT, encoding: 'utf8' }),
);
execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', join(ROOT, '.work', packed.filename)], {
  cwd: BENCH,
  stdio: 'inherit',
});

const receiver = await startReceiver({ decodeOnRead: true });
const target = await startTarget();

interface Variant {
  readonly preload: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Whether it exports spans (and so gets the receiver and the sampling settings). */
  readonly tracing: boolean;
  /** Not in the start-up and script tables, which are about what the preload costs a process whatever it traces. */
  readonly loadOnly?: true;
  /** Only in the logs tables. */
  readonly logsOnly?: true;
}

const OFFICIAL = ['--require', '@opentelemetry/auto-instrumentations-node/register'];
const OURS = ['--import', '@rustok/otel/register'];
const VARIANTS: Record<string, Variant> = {
  'bare node': { preload: [], env: {}, tracing: false },
  'ours, OTEL_ENABLED unset': { preload: OURS, env: {}, tracing: false },
  ours: { preload: OURS, env: { OTEL_ENABLED: 'true' }, tracing: true },
  'ours, with metrics': {
    preload: OURS,
    env: { OTEL_ENABLED: 'true', OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '5000' },
    tracing: true,
  },
  // Servers, Express and fetch traced by upstream's instrumentations, as before ours: what ours save per request.
  'ours, upstream instrumentations': {
    preload: OURS,
    env: { OTEL_ENABLED: 'true', OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: 'http,express,undici' },
    tracing: true,
    loadOnly: true,
  },
  official: { preload: OFFICIAL, env: {}, tracing: true },
  'official, OTEL_SDK_DISABLED': { preload: OFFICIAL, env: { OTEL_SDK_DISABLED: 'true' }, tracing: false },
  // The official register also loads the router instrumentation, which doubles Express 5's handler
  // spans; without it, it sends what we send (a server span and a handler span per request).
  'official, our span count': {
    preload: OFFICIAL,
    env: { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'router' },
    tracing: true,
    loadOnly: true,
  },
  EDOT: { preload: ['--import', '@elastic/opentelemetry-node'], env: {}, tracing: true },
  'ours, with logs': { preload: OURS, env: { OTEL_ENABLED: 'true', OTEL_LOGS_EXPORTER: 'otlp' }, tracing: true, logsOnly: true },
  'official, with logs': { preload: OFFICIAL, env: { OTEL_LOGS_EXPORTER: 'otlp' }, tracing: true, logsOnly: true },
};
/** The variants of the general tables; the logs tables name theirs. */
const GENERAL = Object.keys(VARIANTS).filter((name) => !VARIANTS[name]?.logsOnly);
const LOGS = ['bare node', 'ours', 'ours, with logs', 'official', 'official, with logs'];

function environment(name: string, variant: Variant, ratio: number): Record<string, string> {
  const tracing = variant.tracing && {
    OTEL_SERVICE_NAME: name,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.grpcUrl,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(ratio),
    // Traces only, unless a variant says otherwise: the peers would also export metrics and logs.
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
  return { PATH: process.env.PATH ?? '', TARGET_URL: target.url, ...tracing, ...variant.env };
}

interface Running {
  readonly child: ChildProcess;
  readonly port: Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function run(app: string, name: string, ratio = 1, extra: Record<string, string> = {}): Running {
  const variant = VARIANTS[name] as Variant;
  const child = spawn(process.execPath, [...variant.preload, join(BENCH, 'apps', app)], {
    cwd: BENCH,
    env: { ...environment(name, variant, ratio), ...extra },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const port = new Promise<number>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const match = chunk.match(/listening (\d+)/);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', () => reject(new Error(`${app} under ${name} exited`)));
  });
  port.catch(() => {});
  return {
    child,
    port,
    /** SIGTERM lets a variant flush what it holds; what does not exit within 10 s is killed. */
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
const range = (values: readonly number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
/** A difference with its sign; one that rounds to zero is +0, not -0. */
const signed = (value: number, unit: string) => {
  const rounded = Math.round(value);
  return `${rounded < 0 ? '−' : '+'}${Math.abs(rounded)} ${unit}`;
};
const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');

/** The app's CPU time in µs, every thread's, and its own thread's busy time; undefined for an app that does not report them. */
async function cpu(port: number): Promise<{ all: number; app: number } | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/__cpu`);
  return response.ok ? ((await response.json()) as { all: number; app: number }) : undefined;
}

async function rss(port: number): Promise<number> {
  return Number(await (await fetch(`http://127.0.0.1:${port}/__rss`)).text());
}

async function startup(app: string, path: string, names = GENERAL.filter((name) => !VARIANTS[name]?.loadOnly)) {
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const memory: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const name of names) {
      const started = performance.now();
      const running = run(app, name);
      const port = await running.port;
      await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
      times[name]?.push(performance.now() - started);
      memory[name]?.push(await rss(port));
      await running.stop();
    }
  }
  const bare = median(times['bare node'] ?? []);
  const bareRss = median(memory['bare node'] ?? []);
  return table(
    ['variant', 'spawn → first 200', 'min–max', 'overhead', 'vs bare', 'RSS', 'RSS overhead'],
    names.map((name) => {
      const t = median(times[name] ?? []);
      const m = median(memory[name] ?? []);
      return [
        name,
        `${t.toFixed(0)} ms`,
        `${range(times[name] ?? [])} ms`,
        signed(t - bare, 'ms'),
        ratio(t, bare),
        mb(m),
        signed((m - bareRss) / 2 ** 20, 'MB'),
      ];
    }),
  );
}

interface LoadRuns {
  readonly rps: number[];
  readonly p50: number[];
  readonly p99: number[];
  readonly perRequest: number[];
  readonly growth: number[];
  /** Log records received per request. */
  readonly logsPerRequest: number[];
  /** CPU µs per request, all threads, where the app reports it (`/__cpu`). */
  readonly cpu: number[];
  /** CPU µs per request of the app's own thread, where the app reports it. */
  readonly appThread: number[];
}

interface LoadOptions {
  readonly app?: string;
  readonly env?: Record<string, string>;
  readonly rounds?: number;
  readonly path?: string;
  /** Requests a second, all connections together; without it, as many as the app answers. */
  readonly rate?: number;
  /** Requests before the measured run (the RSS growth is measured over them). */
  readonly warmUp?: number;
  /** Seconds at `rate` after the warm-up, before the measured run: a process's first seconds cost more than the hours after. */
  readonly settle?: number;
}

/** Each variant under autocannon, alternated round by round: req/s, p99, spans received per request, RSS growth. */
async function throughput(names: readonly string[], sampling: number, options: LoadOptions = {}) {
  const { app = 'express.cjs', env = {}, rounds = LOAD_ROUNDS, path = '/users/42', rate, warmUp = 20_000, settle } = options;
  const paced = rate ? { overallRate: rate } : {};
  const runs: Record<string, LoadRuns> = Object.fromEntries(
    names.map((name) => [name, { rps: [], p50: [], p99: [], perRequest: [], growth: [], logsPerRequest: [], cpu: [], appThread: [] }]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const running = run(app, name, sampling, env);
      const port = await running.port;
      const url = `http://127.0.0.1:${port}${path}`;
      const before = await rss(port);
      await autocannon({ url, connections: 10, amount: warmUp });
      if (settle) await autocannon({ url, connections: 10, duration: settle, ...paced });
      const after = await rss(port);
      const from = BigInt(Date.now()) * 1_000_000n;
      const cpuBefore = await cpu(port);
      const result = await autocannon({ url, connections: 10, duration: LOAD_SECONDS, ...paced });
      const cpuAfter = await cpu(port);
      const to = BigInt(Date.now()) * 1_000_000n;
      // Spans that started during the measured run, counted once every variant has flushed at SIGTERM.
      await running.stop('SIGTERM');
      const spans = receiver.spans.filter(
        (span) => span.resource['service.name'] === name && span.startNanos >= from && span.startNanos <= to,
      ).length;
      const measured = runs[name] as (typeof runs)[string];
      measured.rps.push(result.requests.average);
      measured.p50.push(result.latency.p50);
      measured.p99.push(result.latency.p99);
      measured.perRequest.push(spans / result.requests.total);
      measured.growth.push(after - before);
      const logs = receiver.logs.filter(
        (log) => log.resource['service.name'] === name && log.timeNanos >= from && log.timeNanos <= to,
      ).length;
      measured.logsPerRequest.push(logs / result.requests.total);
      receiver.forget();
      target.requests.length = 0;
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        measured.cpu.push((cpuAfter.all - cpuBefore.all) / result.requests.total);
        measured.appThread.push((cpuAfter.app - cpuBefore.app) / result.requests.total);
      }
    }
  }
  return runs;
}

async function load(names: readonly string[], sampling: number) {
  const runs = await throughput(names, sampling);
  const bare = runs['bare node'] as LoadRuns;
  return table(
    ['variant', 'req/s', 'min–max', 'vs bare', 'p99', 'vs bare', 'spans/request received', 'RSS growth over 20k requests'],
    names.map((name) => {
      const measured = runs[name] as (typeof runs)[string];
      const rps = median(measured.rps);
      const p99 = median(measured.p99);
      return [
        name,
        rps.toFixed(0),
        range(measured.rps),
        ratio(rps, median(bare.rps)),
        `${p99} ms`,
        ratio(p99, median(bare.p99)),
        VARIANTS[name]?.tracing ? median(measured.perRequest).toFixed(2) : '–',
        `+${mb(median(measured.growth))}`,
      ];
    }),
  );
}

/** Steady requests a second for the service: well under what it can answer, as a service runs. */
const SERVICE_RATE = Number(process.env.SERVICE_RATE ?? 400);
/**
 * Seconds at that rate before the measured run. In a process's first seconds, the start-up's garbage
 * and code not yet optimised cost more per request: up to ~100 µs for ours in a probe.
 */
const SERVICE_SETTLE_SECONDS = Number(process.env.SERVICE_SETTLE_SECONDS ?? 20);
const SERVICE = ['bare node', 'ours', 'ours, upstream instrumentations', 'ours, with metrics', 'official'];

/**
 * CPU per request of a service with real work in each request (a PostgreSQL read, an outgoing
 * call, JSON) at a steady rate: what tracing adds to what a service costs, the figure the seed
 * claims for its Rust original (2–5 % at 100 % sampling, < 1 % at 10 %).
 */
async function serviceCost(postgres: string, sampling: number) {
  const runs = await throughput(SERVICE, sampling, {
    app: 'service.cjs',
    env: { PG_URL: postgres },
    path: '/orders/42',
    rate: SERVICE_RATE,
    warmUp: 2_000,
    settle: SERVICE_SETTLE_SECONDS,
  });
  const of = (name: string, what: 'cpu' | 'appThread' | 'p50' | 'p99') => median((runs[name] as LoadRuns)[what]);
  const signed = (value: number) => `${value < 0 ? '−' : '+'}${Math.abs(value).toFixed(0)}`;
  const added = (name: string, what: 'cpu' | 'appThread') => {
    if (name === 'bare node') return '–';
    const more = of(name, what) - of('bare node', what);
    return `${signed(more)} µs (${signed((100 * more) / of('bare node', what))} %)`;
  };
  return table(
    [
      'variant',
      'all threads, CPU µs/request',
      'min–max',
      'added',
      "app's thread, CPU µs/request",
      'added',
      'p50 / p99',
      'spans/request received',
    ],
    SERVICE.map((name) => [
      name,
      of(name, 'cpu').toFixed(0),
      range((runs[name] as LoadRuns).cpu),
      added(name, 'cpu'),
      of(name, 'appThread').toFixed(0),
      added(name, 'appThread'),
      `${of(name, 'p50')} / ${of(name, 'p99')} ms`,
      VARIANTS[name]?.tracing ? median((runs[name] as LoadRuns).perRequest).toFixed(2) : '–',
    ]),
  );
}

const CALLS = ['bare node', 'ours', 'ours, upstream instrumentations', 'ours, with metrics', 'official'];
const CALL_ROUNDS = Number(process.env.CALL_ROUNDS ?? 3);

/** CPU per outgoing call, with fetch or node:http: what a gateway or a backend-for-frontend pays on each call it makes. */
async function callCost(client: 'fetch' | 'http', sampling: number) {
  const cost: Record<string, number[]> = Object.fromEntries(CALLS.map((name) => [name, []]));
  for (let round = 0; round < CALL_ROUNDS; round++) {
    for (const name of CALLS) {
      const running = run('calls.cjs', name, sampling, { CLIENT: client });
      let output = '';
      running.child.stdout?.on('data', (chunk: string) => {
        output += chunk;
      });
      await once(running.child, 'exit');
      const measured = output.match(/cpu per call ([\d.]+)/);
      if (!measured) throw new Error(`calls.cjs under ${name} printed no cost: ${output}`);
      cost[name]?.push(Number(measured[1]));
      receiver.forget();
      target.requests.length = 0;
    }
  }
  const bare = median(cost['bare node'] ?? []);
  return table(
    ['variant', 'CPU µs/call, all threads', 'min–max', 'added'],
    CALLS.map((name) => {
      const value = median(cost[name] ?? []);
      return [name, value.toFixed(0), range(cost[name] ?? []), name === 'bare node' ? '–' : `+${(value - bare).toFixed(0)} µs`];
    }),
  );
}

async function script() {
  const names = GENERAL.filter((name) => !VARIANTS[name]?.loadOnly);
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const delivered: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const name of names) {
      const before = receiver.spans.filter((span) => span.resource['service.name'] === name).length;
      const started = performance.now();
      const running = run('script.cjs', name);
      await once(running.child, 'exit');
      times[name]?.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 200));
      delivered[name] = (delivered[name] ?? 0) + receiver.spans.filter((span) => span.resource['service.name'] === name).length - before;
    }
  }
  const bare = median(times['bare node'] ?? []);
  return table(
    ['variant', 'wall time', 'min–max', 'vs bare', 'spans delivered'],
    names.map((name) => {
      const t = median(times[name] ?? []);
      const spans = VARIANTS[name]?.tracing ? `${delivered[name]} / ${3 * STARTUP_RUNS}` : '–';
      return [name, `${t.toFixed(0)} ms`, `${range(times[name] ?? [])} ms`, ratio(t, bare), spans];
    }),
  );
}

/** The highest rate of ended spans that all arrive at the receiver, doubling until some do not. */
async function capacity() {
  const rows: string[][] = [];
  for (let rate = 5_000; rate <= 160_000; rate *= 2) {
    const name = `capacity-${rate}`;
    const seconds = 5;
    const child = spawn(process.execPath, [...OURS, join(BENCH, 'apps/spans.cjs')], {
      cwd: BENCH,
      env: { ...environment(name, VARIANTS.ours as Variant, 1), OTEL_ENABLED: 'true', RATE: String(rate), SECONDS: String(seconds) },
      stdio: 'ignore',
    });
    await once(child, 'exit');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = receiver.spans.filter((span) => span.resource['service.name'] === name && span.name === 'synthetic').length;
    rows.push([`${rate}`, `${rate * seconds}`, `${received}`, received === rate * seconds ? 'none' : `${rate * seconds - received}`]);
    if (received < rate * seconds) break;
  }
  return table(['spans/s offered', 'ended', 'received', 'dropped'], rows);
}

/**
 * What log sending costs per record: an Express route logging 0 and then 20 pino records per request,
 * compared per request in the CPU time of the app's own thread (what its requests wait for) and of
 * every thread of the process (the export thread's work included, none of the load generator's);
 * with how many records reached the receiver. And the throughput of a service logging
 * 2 records per request.
 */
async function logCost() {
  const [none, twenty, two] = [
    await throughput(LOGS, 1, { app: 'pino.cjs', env: { LINES: '0' } }),
    await throughput(LOGS, 1, { app: 'pino.cjs', env: { LINES: '20' } }),
    await throughput(LOGS, 1, { app: 'pino.cjs', env: { LINES: '2' }, rounds: LOG_THROUGHPUT_ROUNDS }),
  ];
  const rps = (runs: Record<string, LoadRuns>, name: string) => median((runs[name] as LoadRuns).rps);
  const of = (runs: Record<string, LoadRuns>, name: string, what: 'cpu' | 'appThread') => median((runs[name] as LoadRuns)[what]);
  const perRecord = (name: string, what: 'cpu' | 'appThread') => (of(twenty, name, what) - of(none, name, what)) / 20;
  const added = (name: string, what: 'cpu' | 'appThread') =>
    name === 'bare node' ? '–' : `+${(perRecord(name, what) - perRecord('bare node', what)).toFixed(1)} µs`;
  const cost = table(
    [
      'variant',
      "app's thread CPU µs/request, 0 / 20 records",
      "added per record on the app's thread",
      'all threads CPU µs/request, 0 / 20 records',
      'added per record, all threads',
      'records received of 20',
    ],
    LOGS.map((name) => [
      name,
      `${of(none, name, 'appThread').toFixed(0)} / ${of(twenty, name, 'appThread').toFixed(0)}`,
      added(name, 'appThread'),
      `${of(none, name, 'cpu').toFixed(0)} / ${of(twenty, name, 'cpu').toFixed(0)}`,
      added(name, 'cpu'),
      VARIANTS[name]?.env.OTEL_LOGS_EXPORTER === 'otlp' ? median((twenty[name] as LoadRuns).logsPerRequest).toFixed(1) : '–',
    ]),
  );
  // Each round's with-logs run against the same round's run without: drift between rounds cancels out.
  const pairedRatios = (name: string, without: string) =>
    (two[name] as LoadRuns).rps.map((rps, round) => rps / ((two[without] as LoadRuns).rps[round] as number));
  const withTwo = table(
    ['variant', 'req/s', 'min–max', 'vs bare', 'vs the same without logs, round by round', 'min–max'],
    LOGS.map((name) => {
      const without = name.replace(', with logs', '');
      const ratios = name === without ? [] : pairedRatios(name, without);
      return [
        name,
        rps(two, name).toFixed(0),
        range((two[name] as LoadRuns).rps),
        ratio(rps(two, name), rps(two, 'bare node')),
        name === without ? '–' : `${median(ratios).toFixed(2)}×`,
        name === without ? '–' : `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`,
      ];
    }),
  );
  return { cost, withTwo };
}

/** The highest rate of pino records that all arrive at the receiver, doubling until some do not. */
async function logCapacity() {
  const rows: string[][] = [];
  for (let rate = 5_000; rate <= 160_000; rate *= 2) {
    const name = `log-capacity-${rate}`;
    const seconds = 5;
    const child = spawn(process.execPath, [...OURS, join(BENCH, 'apps/logs.cjs')], {
      cwd: BENCH,
      env: {
        ...environment(name, VARIANTS['ours, with logs'] as Variant, 1),
        OTEL_ENABLED: 'true',
        RATE: String(rate),
        SECONDS: String(seconds),
      },
      stdio: 'ignore',
    });
    await once(child, 'exit');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = receiver.logs.filter((log) => log.resource['service.name'] === name && log.body === 'synthetic').length;
    rows.push([`${rate}`, `${rate * seconds}`, `${received}`, received === rate * seconds ? 'none' : `${rate * seconds - received}`]);
    if (received < rate * seconds) break;
  }
  return table(['records/s offered', 'logged', 'received', 'dropped'], rows);
}

// SECTIONS=capacity (or any comma-separated subset) runs part of the benchmark.
const sections = new Set((process.env.SECTIONS ?? 'startup,load,service,calls,script,capacity,logs').split(','));
console.log(
  `# @rustok/otel benchmark\n\nNode ${process.versions.node}, ${cpus().length} × ${cpus()[0]?.model}, ${new Date().toISOString()}\n`,
);
if (sections.has('startup')) {
  console.log(`## Start-up, plain node:http app (${STARTUP_RUNS} alternated runs)\n\n${await startup('plain.cjs', '/')}\n`);
  console.log(`## Start-up, small Express app\n\n${await startup('express.cjs', '/users/1')}\n`);
  console.log(
    `## Start-up, Express app importing pg, ioredis, mongodb, kafkajs, graphql, mysql2\n\n${await startup('large.cjs', '/users/1')}\n`,
  );
}
if (sections.has('load')) {
  const onVariants = [
    'bare node',
    'ours',
    'ours, upstream instrumentations',
    'ours, with metrics',
    'official',
    'official, our span count',
    'EDOT',
  ];
  console.log(
    `## Express throughput, 100 % sampling (autocannon, 10 connections, ${LOAD_SECONDS} s, ${LOAD_ROUNDS} alternated rounds)\n\n${await load(onVariants, 1)}\n`,
  );
  console.log(`## Express throughput, 10 % sampling\n\n${await load(onVariants, 0.1)}\n`);
  console.log(`## Express throughput, sampling 0 (nothing recorded)\n\n${await load(onVariants, 0)}\n`);
}
if (sections.has('service')) {
  installServerPackages(['postgresql']);
  const postgres = await startPostgres();
  try {
    const heading = `(a PostgreSQL read, a call out with fetch, JSON; ${SERVICE_RATE} requests/s, ${LOAD_SECONDS} s after ${SERVICE_SETTLE_SECONDS} s, ${LOAD_ROUNDS} alternated rounds)`;
    console.log(`## CPU per request of a service ${heading}, 100 % sampling\n\n${await serviceCost(postgres.url, 1)}\n`);
    console.log(`## CPU per request of a service, 10 % sampling\n\n${await serviceCost(postgres.url, 0.1)}\n`);
  } finally {
    await postgres.stop();
    await stopServers();
  }
}
if (sections.has('calls')) {
  const heading = `(10 at a time, 20 000 calls after 5 000, ${CALL_ROUNDS} alternated rounds)`;
  for (const [client, title] of [
    ['fetch', 'fetch'],
    ['http', "node:http's get"],
  ] as const) {
    console.log(`## CPU per outgoing call with ${title} ${heading}, 100 % sampling\n\n${await callCost(client, 1)}\n`);
    console.log(`## CPU per outgoing call with ${title}, 10 % sampling\n\n${await callCost(client, 0.1)}\n`);
  }
}
if (sections.has('script')) console.log(`## A 3-request CommonJS script, wall time\n\n${await script()}\n`);
if (sections.has('capacity')) {
  console.log(`## Export capacity of @rustok/otel (synthetic spans, default queue and batch)\n\n${await capacity()}\n`);
}
if (sections.has('logs')) {
  console.log(
    `## Start-up with logs, Express app logging with pino (${STARTUP_RUNS} alternated runs)\n\n${await startup('pino.cjs', '/users/1', LOGS)}\n`,
  );
  const { cost, withTwo } = await logCost();
  console.log(`## CPU per pino record (autocannon, 10 connections, ${LOAD_SECONDS} s, ${LOAD_ROUNDS} alternated rounds)\n\n${cost}\n`);
  console.log(`## Express throughput, 2 pino records per request (${LOG_THROUGHPUT_ROUNDS} alternated rounds)\n\n${withTwo}\n`);
  console.log(`## Export capacity of @rustok/otel for logs (pino records, default queue and batch)\n\n${await logCapacity()}\n`);
}
await Promise.all([receiver.close(), target.close()]);
