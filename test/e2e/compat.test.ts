// The compatibility table: real frameworks and launchers from npm (pinned in test/fixtures/frameworks
// and test/fixtures/workspace), each started the way its own docs say, once bare and once with the
// preload in NODE_OPTIONS. What the app can observe (answers, stdout, stderr, exit) must be the same
// both times, and the telemetry must be one service's: one start-up line, one process, the app's
// name. Install first: `node --import tsx test/fixtures/install.ts frameworks workspace`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type App, FIXTURE_NODE, fixtureDir, ourLines, ROOT, startCommand, WAIT_MS } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import type { ReceivedSpan } from '../helpers/receiver.js';

const fixture = useFixture();

const SERVER = 2;
const NODE_VERSION = execFileSync(FIXTURE_NODE, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');

interface Row {
  /** The package the row is about: its name and the version pinned in `manifest` label the row. */
  readonly subject: string;
  readonly how: string;
  /** The fixture folder it is installed from (test/fixtures/<fixture>, into fixtureDir(fixture)). Default: frameworks. */
  readonly fixture?: 'frameworks' | 'workspace';
  /** Where it starts, in the installed fixture. Default: its root. */
  readonly cwd?: string;
  /** The package.json, in test/fixtures/<fixture>, that pins the subject. Default: the fixture's own. */
  readonly manifest?: string;
  /** An executable in the fixture's node_modules/.bin, `npm`/`npx` (the ones on PATH), or `node` (FIXTURE_NODE). */
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The line the app prints once it serves, its first group the port. Default: `listening <port>`. */
  readonly listeningOn?: RegExp;
  readonly paths: readonly string[];
  /** Output lines that come or not, bare as well: the launcher's own race, not the preload's doing. */
  readonly racy?: RegExp;
  /** Packages whose `engines.node` the fixture Node must satisfy, besides the subject. */
  readonly engines?: readonly string[];
  readonly service: { readonly name: string; readonly version: string; readonly environment: string };
}

const SHOP_SERVICE = { name: 'compat-shop', version: '2.7.1', environment: 'development' };
const NEXT_PORT = /- Local:\s+http:\/\/127\.0\.0\.1:(\d+)/;
const FASTIFY_PORT = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/;
const SERVE_PORT = /Accepting connections at http:\/\/[\w.]+:(\d+)/;

const ROWS: readonly Row[] = [
  {
    subject: 'next',
    how: '`npm start` → `next start` (after `next build`)',
    command: 'npm',
    args: ['start'],
    listeningOn: NEXT_PORT,
    paths: ['/', '/api/hello?name=ada', '/missing'],
    service: { ...SHOP_SERVICE, environment: 'production' },
  },
  {
    subject: 'next',
    how: "`node node_modules/next/dist/bin/next start` (a Dockerfile's CMD, no npm)",
    command: 'node',
    args: ['node_modules/next/dist/bin/next', 'start', 'next-app', '-H', '127.0.0.1'],
    listeningOn: NEXT_PORT,
    paths: ['/api/hello?name=grace'],
    service: { ...SHOP_SERVICE, environment: 'production' },
  },
  {
    subject: 'fastify-cli',
    how: '`npm run start:fastify` → `fastify start -l info app.js`',
    command: 'npm',
    args: ['run', 'start:fastify'],
    listeningOn: FASTIFY_PORT,
    paths: ['/hello', '/items/42', '/boom', '/missing'],
    engines: ['fastify', 'yargs-parser'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'koa',
    how: '`node koa/app.js`',
    command: 'node',
    args: ['koa/app.js'],
    paths: ['/hello', '/items/7', '/boom', '/missing'],
    service: SHOP_SERVICE,
  },
  {
    subject: '@hapi/hapi',
    how: '`node hapi/server.js`',
    command: 'node',
    args: ['hapi/server.js'],
    paths: ['/hello', '/items/7', '/boom', '/missing'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'serve',
    how: '`npx serve -l tcp://127.0.0.1:0 static`',
    command: 'npx',
    args: ['serve', '-l', 'tcp://127.0.0.1:0', 'static'],
    // Its update check asks the registry: an answer that differs between the two runs is not the preload's doing.
    env: { NO_UPDATE_CHECK: '1' },
    listeningOn: SERVE_PORT,
    paths: ['/', '/data.json', '/missing'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'tsx',
    how: '`tsx ts/app.ts` (the CLI starts the app in a child node)',
    command: 'tsx',
    args: ['ts/app.ts'],
    paths: ['/hello', '/missing'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'cross-env',
    how: '`npm run start:env` → `cross-env GREETING=bonjour node koa/app.js`',
    command: 'npm',
    args: ['run', 'start:env'],
    paths: ['/hello'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'dotenv-cli',
    how: '`dotenv -e koa/.env -- node koa/app.js`',
    command: 'dotenv',
    args: ['-e', 'koa/.env', '--', 'node', 'koa/app.js'],
    paths: ['/hello'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'nodemon',
    how: '`nodemon koa/app.js`',
    command: 'nodemon',
    args: ['koa/app.js'],
    // When the app's exit reaches nodemon before the SIGINT does, it says so (seen bare too).
    racy: /^\[nodemon\] app crashed - waiting for file changes before starting\.\.\.$/,
    paths: ['/hello'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'pnpm',
    how: '`pnpm run start:koa` (npm-installed node_modules)',
    command: 'pnpm',
    args: ['run', 'start:koa'],
    paths: ['/hello'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'yarn',
    how: '`yarn start:koa` (yarn 1)',
    command: 'yarn',
    args: ['start:koa'],
    // After the group's SIGINT, yarn 1 says its command failed only when it sees its child's exit
    // before its own SIGINT ends it: bare as well (0 of 8 bare runs outside the tests said it).
    racy: /^(error Command failed with signal "SIGINT"\.|info Visit https:\/\/yarnpkg\.com\/en\/docs\/cli\/run for documentation about this command\.)$/,
    paths: ['/hello'],
    service: SHOP_SERVICE,
  },
  {
    subject: 'fastify-cli',
    how: 'npm workspace: `npm start -w @compat-shop/api` → `fastify start` from the root node_modules',
    fixture: 'workspace',
    manifest: 'packages/api/package.json',
    command: 'npm',
    args: ['start', '-w', '@compat-shop/api'],
    listeningOn: FASTIFY_PORT,
    paths: ['/hello'],
    engines: ['fastify', 'yargs-parser'],
    service: { name: '@compat-shop/api', version: '1.4.0', environment: 'development' },
  },
  {
    subject: 'serve',
    how: 'npm workspace: `npm start` in packages/web → `serve public` from the root node_modules',
    fixture: 'workspace',
    cwd: 'packages/web',
    manifest: 'packages/web/package.json',
    command: 'npm',
    args: ['start'],
    env: { NO_UPDATE_CHECK: '1' },
    listeningOn: SERVE_PORT,
    paths: ['/', '/missing'],
    service: { name: '@compat-shop/web', version: '0.9.0', environment: 'development' },
  },
];

/** What the app and its user can see of one run, made comparable: ports, durations and PIDs masked. */
interface Observed {
  readonly responses: readonly { path: string; status: number; type: string | null; body: string }[];
  readonly stdout: string;
  /** Without the preload's own lines. */
  readonly stderr: string;
  readonly exit: { code: number | null; signal: NodeJS.Signals | null };
}

interface Run {
  readonly observed: Observed;
  readonly app: App;
  readonly runId: string;
  /** The PIDs the app put in its answers (`"pid": …`): the process that serves. */
  readonly servingPids: ReadonlySet<number>;
}

describe('compatibility with real frameworks and launchers', () => {
  for (const row of ROWS) {
    const label = `${row.subject}@${pinned(row)}`;
    it(`${label}, ${row.how}: the app sees the same with the preload, and the spans are one service's`, { timeout: 60_000 }, async (t) => {
      const unsupported = unsupportedBy(row);
      if (unsupported) return t.skip(unsupported);
      // Side by side: the two runs do not share a port or a span (each its own compat.run).
      const [bare, traced] = await Promise.all([run(row, 'none'), run(row, 'node-options')]);

      assert.deepEqual(traced.observed, bare.observed, 'what the app can observe does not change with the preload');
      assert.deepEqual(ourLines(bare.app.stderr()), []);
      const lines = ourLines(traced.app.stderr());
      assert.equal(lines.length, 1, `one line from the preload, for the whole process tree:\n${traced.app.stderr()}`);
      assert.match(lines[0] ?? '', new RegExp(`^tracing ${literal(row.service.name)}@${literal(row.service.version)} \\(`));

      // The whole process tree has ended: whatever any of its processes exported is in.
      const spans = ofRun(fixture.receiver.spans, traced.runId);
      const pids = new Set(spans.map((span) => span.resource['process.pid']));
      assert.equal(pids.size, 1, `every span from one process, got PIDs ${[...pids].join(', ')}`);
      if (traced.servingPids.size > 0) assert.deepEqual(pids, traced.servingPids, 'the process that serves the requests');
      const resources = new Set(
        spans.map((span) =>
          JSON.stringify([span.resource['service.name'], span.resource['service.version'], span.resource['deployment.environment.name']]),
        ),
      );
      assert.deepEqual(
        [...resources].map((resource) => JSON.parse(resource)),
        [[row.service.name, row.service.version, row.service.environment]],
      );
    });
  }
});

/**
 * Starts the row's command, asks its paths, and (traced) waits for their server spans; then stops it
 * the way a terminal's Ctrl-C does (SIGINT to the whole process group) and waits for it to end.
 */
async function run(row: Row, preload: 'none' | 'node-options'): Promise<Run> {
  const runId = randomUUID();
  const installed = fixtureDir(row.fixture ?? 'frameworks');
  const command =
    row.command === 'node'
      ? FIXTURE_NODE
      : ['npm', 'npx'].includes(row.command)
        ? row.command
        : join(installed, 'node_modules/.bin', row.command);
  const app = startCommand(command, row.args, {
    preload,
    receiver: fixture.receiver,
    cwd: join(installed, row.cwd ?? ''),
    listeningOn: row.listeningOn,
    env: {
      PORT: '0',
      OTEL_METRICS_EXPORTER: 'none',
      // Every process of the run says which run it belongs to, launchers included, should they trace.
      OTEL_RESOURCE_ATTRIBUTES: `compat.run=${runId}`,
      NEXT_TELEMETRY_DISABLED: '1',
      npm_config_update_notifier: 'false',
      ...row.env,
    },
  });
  const port = await app.listening;
  const servingPids = new Set<number>();
  const responses = [];
  for (const path of row.paths) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(WAIT_MS) });
    const body = await response.text();
    for (const match of body.matchAll(/"pid":(\d+)/g)) servingPids.add(Number(match[1]));
    responses.push({
      path,
      status: response.status,
      type: response.headers.get('content-type'),
      body: body.replace(/"pid":\d+/g, '"pid":"<pid>"'),
    });
  }
  // The spans of the requests arrive while the app runs (what its exit delivers is shutdown.test.ts's
  // subject): only the launchers, were they traced, would export at their end.
  if (preload === 'node-options') {
    await fixture.receiver
      .waitFor((spans) => served(ofRun(spans, runId), row.paths), 10_000)
      .catch(() => {
        const got = ofRun(fixture.receiver.spans, runId).map((span) => `${span.name} ${span.attributes['url.path'] ?? ''}`);
        assert.fail(`no server span for each of ${row.paths.join(', ')}; got:\n${got.join('\n')}\nstderr: ${app.stderr()}`);
      });
  }
  process.kill(-app.pid, 'SIGINT');
  const exit = await app.exited;
  const mask = (text: string) => normalize(text, port, row.racy);
  const stderr = app
    .stderr()
    .split('\n')
    .filter((line) => !line.startsWith('@rustok/otel: '))
    .join('\n');
  return { observed: { responses, stdout: mask(app.stdout()), stderr: mask(stderr), exit }, app, runId, servingPids };
}

function ofRun(spans: readonly ReceivedSpan[], runId: string): ReceivedSpan[] {
  return spans.filter((span) => span.resource['compat.run'] === runId);
}

/** Whether every path asked has its server span. */
function served(spans: readonly ReceivedSpan[], paths: readonly string[]): boolean {
  return paths.every((path) =>
    spans.some((span) => span.kind === SERVER && span.attributes['url.path'] === new URL(path, 'http://localhost').pathname),
  );
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
// In a JSON log line (pino, under fastify-cli) the clock, process and host are not the app's behaviour,
// and the trace context is what the pino instrumentation adds on purpose (log correlation).
const VOLATILE_LOG_KEYS = new Set(['time', 'pid', 'hostname', 'responseTime', 'remotePort', 'trace_id', 'span_id', 'trace_flags']);
const FRAME = /^\s+at /;

function normalize(text: string, port: number, racy?: RegExp): string {
  const lines = text
    .replace(ANSI, '')
    .split('\n')
    .filter((line) => !racy?.test(line));
  const kept = lines
    .map((line) => (line.startsWith('{') ? logLine(line) : line))
    // A printed stack: the error and the frame that threw. Below it the instrumentations' wrappers
    // add frames of their own (and push some out, past Error.stackTraceLimit): see the README's table.
    .filter((line, index) => !(FRAME.test(line) && FRAME.test(lines[index - 1] ?? '')));
  // The log lines in the places they took, in sorted order: fastify logs "request completed" on the
  // response's 'finish', which can come after the next request's lines, with the preload or without.
  const logs = kept.filter((line) => line.startsWith('{')).sort();
  let next = 0;
  return kept
    .map((line) => (line.startsWith('{') ? logs[next++] : line))
    .join('\n')
    .replace(new RegExp(`\\b${port}\\b`, 'g'), '<port>')
    .replace(/\b\d+(\.\d+)?\s?(ms|s)\b/g, '<duration>')
    .replace(/\b\d{1,2}\/\d{1,2}\/\d{4},? \d{1,2}:\d{2}:\d{2}( [AP]M)?/g, '<time>')
    .replace(/\(node:\d+\)/g, '(node:<pid>)');
}

function logLine(line: string): string {
  try {
    return JSON.stringify(
      JSON.parse(line, (key, value) => {
        if (VOLATILE_LOG_KEYS.has(key)) return undefined;
        // A stack in a log line: where it was thrown, as for a printed one.
        return key === 'stack' && typeof value === 'string' ? value.split('\n').slice(0, 2).join('\n') : value;
      }),
    );
  } catch {
    return line;
  }
}

/** The exact version the fixture pins for the row's subject. */
function pinned(row: Row): string {
  const manifest = join(ROOT, 'test/fixtures', row.fixture ?? 'frameworks', row.manifest ?? 'package.json');
  const version = JSON.parse(readFileSync(manifest, 'utf8')).dependencies?.[row.subject];
  if (!version) throw new Error(`${row.subject} is not pinned in ${manifest}`);
  return version;
}

/** Why the row cannot run on FIXTURE_NODE, by the engines of its packages, or undefined when it can. */
function unsupportedBy(row: Row): string | undefined {
  const folder = row.fixture ?? 'frameworks';
  for (const name of [row.subject, ...(row.engines ?? [])]) {
    const manifest = join(fixtureDir(folder), 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) throw new Error(`${manifest} is missing: run node --import tsx test/fixtures/install.ts ${folder}`);
    const { version, engines } = JSON.parse(readFileSync(manifest, 'utf8'));
    if (engines?.node && !satisfies(NODE_VERSION, engines.node)) {
      return `${name}@${version} needs Node ${engines.node}, the fixture Node is ${NODE_VERSION}`;
    }
  }
  return undefined;
}

/** Enough of semver's ranges for `engines.node`: `||` of space-separated comparators (>=, >, <=, <, ^, ~, exact, x). */
function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  return range.split('||').some((set) =>
    set
      .trim()
      .replace(/([<>=^~]+)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const [, operator = '', rest = ''] = comparator.match(/^([<>=^~]*)v?(.*)$/) ?? [];
        if (/^[*xX]?$/.test(rest)) return true;
        const bound = parseVersion(rest);
        const order = compare(v, bound);
        if (operator === '>=') return order >= 0;
        if (operator === '>') return order > 0;
        if (operator === '<=') return order <= 0;
        if (operator === '<') return order < 0;
        const [major = 0, minor = 0] = bound;
        if (operator === '^') return order >= 0 && compare(v, major > 0 ? [major + 1, 0, 0] : [0, minor + 1, 0]) < 0;
        if (operator === '~') return order >= 0 && compare(v, [major, minor + 1, 0]) < 0;
        // `20`, `20.x`, `20.6.0`: each number given must match.
        return rest.split('.').every((part, index) => !/^\d+$/.test(part) || Number(part) === v[index]);
      }),
  );
}

function parseVersion(version: string): number[] {
  const parts = version
    .split('-')[0]!
    .split('.')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : 0));
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/@]/g, '\\$&');
}
