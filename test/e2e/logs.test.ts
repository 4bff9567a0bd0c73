// Logs (issue #15): the records of real pino, winston and bunyan apps, installed from npm (pinned in
// test/fixtures/loggers, pino 10, bunyan 1 and winston 2 in workspaces of their own), as the receiver
// decodes them; the exit contract with logs on; OTEL_LOGS_EXPORTER=none; the app's own output
// unchanged; records of any size; a collector that refuses or hangs. Install first:
// `node --import tsx test/fixtures/install.ts loggers`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type App, type AppOptions, fixtureDir, ourLines, ROOT, sentinel, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import type { ReceivedLog, ReceivedSpan } from '../helpers/receiver.js';

const fixture = useFixture();
const SERVER = 2;
const PROTOCOLS = ['grpc', 'http/protobuf'] as const;
type Protocol = (typeof PROTOCOLS)[number];
// Batches far longer than any test waits: only the flush at exit can deliver what the app logged.
const SLOW_BATCHES = { OTEL_BSP_SCHEDULE_DELAY: '600000', OTEL_BLRP_SCHEDULE_DELAY: '600000' };
const FAST_LOGS = { OTEL_BLRP_SCHEDULE_DELAY: '100' };

/** What the fixture's /log route logs (test/fixtures/loggers/lib/server.cjs). */
const FIELDS = { user: 'ada', items: 3, paid: true, cart: { id: 'c-1', total: 12.5, express: false }, skus: ['sku-1', 'sku-2'] };

interface Library {
  readonly label: string;
  /** Its CommonJS and ES module apps, in test/fixtures/loggers. */
  readonly apps: readonly [string, string];
  /** The package.json, in test/fixtures/loggers, that pins it. */
  readonly manifest: string;
  readonly scope: string;
  /** Attributes the library adds to every record of the app's (bunyan's logger name). */
  readonly fields: Readonly<Record<string, unknown>>;
}

const PINO_SCOPE = '@opentelemetry/instrumentation-pino';
const BUNYAN_SCOPE = '@opentelemetry/instrumentation-bunyan';
const LIBRARIES: readonly Library[] = [
  { label: 'pino@9.14.0', apps: ['pino.cjs', 'pino.mjs'], manifest: 'package.json', scope: PINO_SCOPE, fields: {} },
  { label: 'pino@10.4.0', apps: ['pino10/pino.cjs', 'pino10/pino.mjs'], manifest: 'pino10/package.json', scope: PINO_SCOPE, fields: {} },
  {
    label: 'winston@3.19.0',
    apps: ['winston.cjs', 'winston.mjs'],
    manifest: 'package.json',
    scope: '@opentelemetry/winston-transport',
    fields: {},
  },
  {
    label: 'bunyan@1.8.15',
    apps: ['bunyan1/bunyan.cjs', 'bunyan1/bunyan.mjs'],
    manifest: 'bunyan1/package.json',
    scope: BUNYAN_SCOPE,
    fields: { name: 'shop' },
  },
];
/** One app per library for the exit contract, CommonJS and ES modules alternating. */
const EXIT_APPS = ['pino.cjs', 'pino10/pino.mjs', 'winston.mjs', 'bunyan1/bunyan.cjs'];

let runs = 0;
/** Starts an app of the fixture under its own service name, so that its records can be told apart. */
function start(script: string, options: AppOptions = {}): { app: App; service: string } {
  const service = `logs-${++runs}-${script.replace(/\W+/g, '-')}`;
  const app = startApp(script, {
    cwd: fixtureDir('loggers'),
    receiver: fixture.receiver,
    ...options,
    env: { OTEL_SERVICE_NAME: service, OTEL_METRICS_EXPORTER: 'none', ...options.env },
  });
  return { app, service };
}

const recordsOf = (service: string) => fixture.receiver.logs.filter((record) => record.resource['service.name'] === service);
const bodies = (service: string) => recordsOf(service).map((record) => record.body);
const said = (app: App) => `\nstdout: ${app.stdout()}\nstderr: ${app.stderr()}`;

async function waitForBodies(app: App, service: string, expected: readonly string[], timeoutMs = 10_000): Promise<ReceivedLog[]> {
  await fixture.receiver
    .waitForLogs(() => expected.every((body) => bodies(service).includes(body)), timeoutMs)
    .catch((error: Error) => assert.fail(`${service}: expected the records ${expected.join(', ')}: ${error.message}${said(app)}`));
  return recordsOf(service);
}

/** A GET in a trace the test names (its caller sampled it); whether it got an answer or not. */
async function tracedGet(app: App, path: string) {
  const traceId = randomBytes(16).toString('hex');
  const before = Date.now();
  const answer = await app.get(path, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` }).then(
    (response) => response.status,
    (error: Error) => error,
  );
  return { traceId, before, after: Date.now(), answer };
}

async function serverSpan(traceId: string): Promise<ReceivedSpan> {
  const find = (spans: readonly ReceivedSpan[]) => spans.find((span) => span.traceId === traceId && span.kind === SERVER);
  return find(await fixture.receiver.waitFor((spans) => find(spans) !== undefined, 10_000))!;
}

const nanos = (millis: number) => BigInt(millis) * 1_000_000n;
const one = <T>(items: readonly T[], what: string): T => {
  assert.equal(items.length, 1, `exactly one ${what}; got ${items.length}`);
  return items[0]!;
};

/** The fields a test compares of a record. */
const summary = (record: ReceivedLog) => ({
  body: record.body,
  severityNumber: record.severityNumber,
  severityText: record.severityText,
  traceId: record.traceId,
  spanId: record.spanId,
  flags: record.flags,
  scope: record.scope.name,
  service: record.resource['service.name'],
});

const CORRELATION = /"(?:trace_id|span_id|trace_flags)":"[0-9a-f]+",?/g;
/**
 * The app's output without what the instrumentations add to it by design (log correlation: the
 * `trace_id`, `span_id` and `trace_flags` of the active span on each line logged inside a request),
 * and how many lines had all three. Ports, PIDs and times masked.
 */
function comparable(output: string): { text: string; correlated: number } {
  let correlated = 0;
  const text = output
    .split('\n')
    .map((line) => {
      const matches = line.match(CORRELATION)?.length ?? 0;
      if (matches === 3) correlated++;
      return line
        .replace(CORRELATION, '')
        .replace(/,}$/, '}')
        .replace(/^listening \d+$/, 'listening <port>')
        .replace(/"pid":\d+/, '"pid":<pid>')
        .replace(/"time":"[^"]+"/, '"time":<time>');
    })
    .join('\n');
  return { text, correlated };
}

/**
 * Node's report of the error a process died of, but for the preload's lines: its header (where the
 * error was thrown, that line of code, a caret), then the error, its frames and Node's version line.
 * Under the preload a throw in a request handler passes through the http instrumentation, whose
 * rethrow the header then quotes and whose frames the stack gains (README: "What differs, by design"):
 * of those, what is compared is the header's size, the error, its first frame (the app's code) and
 * every line that is not a frame.
 */
function crashReport(stderr: string, message: string): string[] {
  const lines = stderr.split('\n').filter((line) => !line.startsWith('@rustok/otel: '));
  const at = lines.indexOf(`Error: ${message}`);
  assert.ok(at >= 0, `Error: ${message} in ${stderr}`);
  const [error, first, ...rest] = lines.slice(at);
  return [`${at} lines of header`, error!, first!, ...rest.filter((line) => !line.startsWith('    at '))];
}

/** Pinned in the fixture, outside the range of their instrumentation: tested to be left as they are. */
const UNSUPPORTED = ['bunyan@2.0.5'];
/** Pinned in the fixture (winston2/) as a second copy, loaded before the app's winston 3, which must still send its records. */
const WINSTON_2 = 'winston@2.4.7';

it('covers every logging library the fixture pins, at its pinned version', () => {
  const manifest = (folder: string) => JSON.parse(readFileSync(join(ROOT, 'test/fixtures/loggers', folder, 'package.json'), 'utf8'));
  const pinned = ['.', ...manifest('.').workspaces].flatMap((folder: string) =>
    Object.entries<string>(manifest(folder).dependencies).map(([name, version]) => `${name}@${version}`),
  );
  assert.deepEqual([...LIBRARIES.map((library) => library.label), ...UNSUPPORTED, WINSTON_2].sort(), pinned.sort());
});

describe('log records reach the collector, from CommonJS and ES modules, over grpc and http/protobuf', () => {
  async function checkRecords(library: Library, script: string, protocol: Protocol): Promise<void> {
    const { app, service } = start(script, { protocol, env: FAST_LOGS });
    await app.listening;
    const request = await tracedGet(app, '/log');
    assert.equal(request.answer, 200, said(app));
    const records = await waitForBodies(app, service, ['started', 'checkout started', 'payment failed']);
    const span = await serverSpan(request.traceId);
    const which = `${library.label} ${script} over ${protocol}${said(app)}`;
    assert.deepEqual(
      records.map((record) => record.body),
      ['started', 'checkout started', 'payment failed'],
      which,
    );
    const [started, info, error] = records as [ReceivedLog, ReceivedLog, ReceivedLog];
    const base = { traceId: request.traceId, spanId: span.spanId, flags: 1, scope: library.scope, service };
    assert.deepEqual(
      summary(started),
      { ...base, body: 'started', severityNumber: 9, severityText: 'info', traceId: '', spanId: '', flags: 0 },
      which,
    );
    assert.deepEqual(summary(info), { ...base, body: 'checkout started', severityNumber: 9, severityText: 'info' }, which);
    assert.deepEqual(info.attributes, { ...library.fields, ...FIELDS }, which);
    assert.deepEqual(summary(error), { ...base, body: 'payment failed', severityNumber: 17, severityText: 'error' }, which);
    const { 'exception.stacktrace': stack, ...attributes } = error.attributes;
    assert.deepEqual(
      attributes,
      { ...library.fields, orderId: 'o-17', 'exception.type': 'RangeError', 'exception.message': 'card declined' },
      which,
    );
    assert.match(String(stack), /^RangeError: card declined\n {4}at Server\.<anonymous> \(.*[\\/]lib[\\/]server\.cjs:\d+:\d+\)\n/, which);
    for (const record of [info, error]) {
      assert.ok(record.timeNanos >= nanos(request.before) && record.timeNanos <= nanos(request.after), `${record.timeNanos}: ${which}`);
      assert.equal(record.via, protocol === 'grpc' ? 'grpc' : 'http', which);
    }
    const destination = protocol === 'grpc' ? `grpc ${fixture.receiver.grpcUrl}` : `http/protobuf ${fixture.receiver.httpUrl}/v1/logs`;
    const [startUp, ...more] = ourLines(app.stderr());
    assert.ok(startUp?.endsWith(`; logs to ${destination}`), `the start-up line names where logs go: ${which}`);
    assert.deepEqual(more, [], which);
  }

  for (const library of LIBRARIES) {
    it(`${library.label}: body, severity, time, typed attributes, exception.*, the request's trace and span, the service`, async () => {
      await Promise.all(library.apps.flatMap((script) => PROTOCOLS.map((protocol) => checkRecords(library, script, protocol))));
    });
  }

  it("sends the records of a CommonJS pino or bunyan app whose only enabled instrumentation is its logger's, metrics off", async () => {
    await Promise.all(
      [
        ['pino.cjs', 'pino', 'stream original false'],
        ['bunyan1/bunyan.cjs', 'bunyan', 'streams 2'],
      ].map(async ([script, library, sinks]) => {
        const { app, service } = start(script!, {
          env: { ...SLOW_BATCHES, SHOW_SINKS: '1', OTEL_NODE_ENABLED_INSTRUMENTATIONS: library },
        });
        assert.equal((await app.get('/burst?n=1')).status, 200);
        process.kill(app.pid, 'SIGTERM');
        await app.exited;
        assert.deepEqual([app.stdout().split('\n')[0], bodies(service)], [sinks, ['started', 'burst 0']], script);
        assert.match(ourLines(app.stderr())[0] ?? '', new RegExp(`1 instrumentations \\(${library}\\); no metrics; logs to grpc `));
      }),
    );
  });

  // bunyan 2 (npm's latest) is outside @opentelemetry/instrumentation-bunyan's range (>=1.0.0 <2), as
  // the README's compatibility table says: it is left as it is. Should the instrumentation take it on,
  // this fails, and bunyan 2 goes into LIBRARIES.
  it(`leaves ${UNSUPPORTED[0]} as it is: no records sent, its streams its own`, async () => {
    const { app, service } = start('bunyan.cjs', { env: { ...SLOW_BATCHES, SHOW_SINKS: '1' } });
    assert.equal((await app.get('/burst?n=1')).status, 200);
    process.kill(app.pid, 'SIGTERM');
    await app.exited;
    assert.deepEqual([app.stdout().split('\n')[0], bodies(service)], ['streams 1', []]);
  });

  it("sends logs over the logs' own protocol and endpoint, and the start-up line names them", async () => {
    const logsUrl = `${fixture.receiver.httpUrl}/v1/logs`;
    const { app, service } = start('pino.cjs', {
      protocol: 'grpc',
      env: { ...FAST_LOGS, OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: logsUrl },
    });
    await app.listening;
    const request = await tracedGet(app, '/log');
    assert.equal(request.answer, 200);
    const records = await waitForBodies(app, service, ['checkout started', 'payment failed']);
    assert.deepEqual(
      records.map((record) => record.via),
      ['http', 'http', 'http'],
    );
    assert.equal((await serverSpan(request.traceId)).via, 'grpc');
    const [startUp] = ourLines(app.stderr());
    assert.ok(startUp?.includes(` to grpc ${fixture.receiver.grpcUrl}, `), startUp);
    assert.ok(startUp?.endsWith(`; logs to http/protobuf ${logsUrl}`), startUp);
  });

  // The winston transport's base class is winston 3's, looked up among the modules loaded: a winston 2
  // loaded first (its main file at a path of the same pattern, .../winston/lib/winston.js) must not
  // give its own, which winston 3 takes for a legacy transport and fails on at the first record.
  it(`${WINSTON_2} required first, then winston 3: the app logs with winston 3 as bare, and its records arrive`, async () => {
    const second = createRequire(join(fixtureDir('loggers'), 'winston2/winston.cjs'));
    assert.match(second.resolve('winston'), /[\\/]winston2[\\/]node_modules[\\/]winston[\\/]lib[\\/]winston\.js$/);
    assert.equal(second('winston/package.json').version, '2.4.7');
    const { app, service } = start('winston2/winston.cjs', { env: FAST_LOGS });
    await app.listening;
    const request = await tracedGet(app, '/log');
    assert.equal(request.answer, 200, said(app));
    const records = await waitForBodies(app, service, ['started', 'checkout started', 'payment failed']);
    const span = await serverSpan(request.traceId);
    assert.deepEqual(
      records.map((record) => [record.body, record.traceId, record.spanId, record.scope.name]),
      [
        ['started', '', '', '@opentelemetry/winston-transport'],
        ['checkout started', request.traceId, span.spanId, '@opentelemetry/winston-transport'],
        ['payment failed', request.traceId, span.spanId, '@opentelemetry/winston-transport'],
      ],
      said(app),
    );
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' }, said(app));
    assert.match(app.stdout(), /"message":"payment failed"/);
    // No legacy-transport warning, no crash: nothing on stderr but our start-up line.
    assert.deepEqual(app.stderr().split('\n').filter(Boolean).length, 1, said(app));
  });
});

describe('the exit contract, with logs', () => {
  it('delivers the record logged right before process.exit(1), and the exit code stays 1', async () => {
    await Promise.all(
      EXIT_APPS.map(async (script) => {
        const { app, service } = start(script, { env: SLOW_BATCHES });
        await app.listening;
        const request = await tracedGet(app, '/exit');
        assert.ok(request.answer instanceof Error, `no answer from /exit: ${script}`);
        assert.deepEqual(await app.exited, { code: 1, signal: null }, script);
        assert.deepEqual(bodies(service), ['started', 'giving up'], `${script}${said(app)}`);
        const last = recordsOf(service)[1]!;
        assert.deepEqual([last.severityNumber, last.traceId, last.attributes.orderId], [17, request.traceId, 'o-18'], script);
      }),
    );
  });

  for (const handler of [false, true]) {
    it(
      handler
        ? "on SIGTERM the app's own handler runs and the app ends as it does bare (exit 0), its handler's record delivered"
        : 'on SIGTERM with no handler the process still dies by SIGTERM, as bare, the records logged before it delivered',
      async () => {
        await Promise.all(
          EXIT_APPS.map(async (script) => {
            const env = { ...SLOW_BATCHES, ...(handler && { SIGTERM_HANDLER: '1' }) };
            const [bare, traced] = [start(script, { preload: 'none', env }), start(script, { env })];
            const exits = await Promise.all(
              [bare, traced].map(async ({ app }) => {
                assert.equal((await tracedGet(app, '/log')).answer, 200);
                process.kill(app.pid, 'SIGTERM');
                return app.exited;
              }),
            );
            assert.deepEqual(exits, Array(2).fill(handler ? { code: 0, signal: null } : { code: null, signal: 'SIGTERM' }), script);
            for (const { app } of [bare, traced]) assert.equal(/"shutting down"/.test(app.stdout()), handler, `${script}${said(app)}`);
            const expected = ['started', 'checkout started', 'payment failed', ...(handler ? ['shutting down'] : [])];
            assert.deepEqual(bodies(traced.service), expected, `${script}${said(traced.app)}`);
          }),
        );
      },
    );
  }

  /** The app, bare and preloaded, each dying of the error `path` leaves; what they printed, and the preloaded one's records. */
  async function crash(script: string, path: '/throw' | '/reject', message: string) {
    const bare = start(script, { preload: 'none', env: SLOW_BATCHES });
    const traced = start(script, { env: SLOW_BATCHES });
    const [bareRequest, request] = await Promise.all([bare, traced].map(({ app }) => app.listening.then(() => tracedGet(app, path))));
    assert.ok(bareRequest?.answer instanceof Error && request?.answer instanceof Error, `no answer from ${path}: ${script}`);
    const [bareExit, exit] = await Promise.all([bare.app.exited, traced.app.exited]);
    assert.deepEqual(bareExit, { code: 1, signal: null }, `${script} bare`);
    assert.deepEqual(exit, bareExit, script);
    assert.deepEqual(crashReport(traced.app.stderr(), message), crashReport(bare.app.stderr(), message), script);
    assert.deepEqual(ourLines(traced.app.stderr()).length, 1, `only the start-up line of ours: ${said(traced.app)}`);
    const records = recordsOf(traced.service);
    const fatal = one(
      records.filter((record) => record.severityNumber === 21),
      `FATAL record of ${script}: ${said(traced.app)}`,
    );
    return {
      records,
      fatal,
      traceId: request!.traceId,
      span: fixture.receiver.spans.find((s) => s.traceId === request!.traceId && s.kind === SERVER),
    };
  }

  function assertFatal(fatal: ReceivedLog, message: string, script: string) {
    const { 'exception.stacktrace': stack, ...attributes } = fatal.attributes;
    assert.deepEqual(
      [fatal.severityText, fatal.body, fatal.scope.name, attributes],
      [
        'FATAL',
        `the process ends: uncaught Error: ${message}`,
        '@rustok/otel',
        { 'exception.type': 'Error', 'exception.message': message },
      ],
      script,
    );
    assert.match(
      String(stack),
      new RegExp(`^Error: ${message}\\n {4}at Server\\.<anonymous> \\(.*[\\\\/]lib[\\\\/]server\\.cjs:\\d+:\\d+\\)\\n`),
    );
  }

  it('an uncaught exception in a request: exit code 1 and the crash report as bare, the records before it, and ONE FATAL record', async () => {
    await Promise.all(
      EXIT_APPS.map(async (script) => {
        const { records, fatal } = await crash(script, '/throw', 'boom in the handler');
        assert.deepEqual(
          records.map((record) => record.body),
          ['started', 'about to throw', fatal.body],
          script,
        );
        assertFatal(fatal, 'boom in the handler', script);
      }),
    );
  });

  it('the FATAL record of an uncaught exception thrown in a request is in that request’s trace and server span', async () => {
    await Promise.all(
      EXIT_APPS.map(async (script) => {
        const { fatal, traceId, span } = await crash(script, '/throw', 'boom in the handler');
        assert.equal(span?.kind, SERVER, `the request's server span arrived: ${script}`);
        assert.deepEqual([fatal.traceId, fatal.spanId], [traceId, span?.spanId], script);
      }),
    );
  });

  it('an unhandled rejection in a request: exit code 1 and the report as bare, ONE FATAL record, in the request’s trace and span', async () => {
    await Promise.all(
      EXIT_APPS.map(async (script) => {
        const { records, fatal, traceId, span } = await crash(script, '/reject', 'rejected in the handler');
        assert.deepEqual(
          records.map((record) => record.body),
          ['started', 'about to reject', fatal.body],
          script,
        );
        assertFatal(fatal, 'rejected in the handler', script);
        assert.equal(span?.kind, SERVER, `the request's server span arrived: ${script}`);
        assert.deepEqual([fatal.traceId, fatal.spanId, fatal.flags], [traceId, span?.spanId, 1], script);
      }),
    );
  });

  // The preload's own 'exit' listener, which sends what is left, is kept the last one: the app's own,
  // added after it, still log, and what they log is sent.
  for (const [how, path, exit, before] of [
    ['the event loop drains', '/close', { code: 0, signal: null }, []],
    ['the app calls process.exit(3)', '/exit?code=3', { code: 3, signal: null }, ['giving up']],
    ["SIGTERM goes to the app's own handler", undefined, { code: 0, signal: null }, ['shutting down']],
  ] as const) {
    it(`a record logged in the app's own 'exit' listener is delivered when ${how}, and the process ends as it does bare`, async () => {
      await Promise.all(
        EXIT_APPS.map(async (script) => {
          const env = { ...SLOW_BATCHES, EXIT_LISTENER: '1', ...(path === undefined && { SIGTERM_HANDLER: '1' }) };
          const pair = [start(script, { preload: 'none', env }), start(script, { env })] as const;
          const exits = await Promise.all(
            pair.map(async ({ app }) => {
              await app.listening;
              if (path) await tracedGet(app, path);
              else process.kill(app.pid, 'SIGTERM');
              return app.exited;
            }),
          );
          assert.deepEqual(exits, [exit, exit], script);
          for (const { app } of pair) assert.match(app.stdout(), /"exit listener"/, `${script}${said(app)}`);
          const [, traced] = pair;
          assert.deepEqual(bodies(traced.service), ['started', ...before, 'exit listener'], `${script}${said(traced.app)}`);
          assert.equal(recordsOf(traced.service).at(-1)?.attributes.code, exit.code, script);
        }),
      );
    });
  }

  // Node runs the exception monitor before it hands an exception to whoever takes it: a capture callback
  // or a domain takes it without an 'uncaughtException' listener, and the process lives on.
  for (const capture of ['callback', 'domain'] as const) {
    it(`an exception ${capture === 'callback' ? 'process.setUncaughtExceptionCaptureCallback' : "a domain's error handler"} takes: no FATAL record, the app serves on and ends as bare`, async () => {
      await Promise.all(
        EXIT_APPS.map(async (script) => {
          const env = { ...SLOW_BATCHES, CAPTURE: capture };
          const pair = [start(script, { preload: 'none', env }), start(script, { env })] as const;
          const exits = await Promise.all(
            pair.map(async ({ app }) => {
              assert.equal((await app.get('/throw-soon?answer')).status, 200, script);
              await app.waitForStdout(/"captured"/);
              assert.equal((await app.get('/burst?n=1&label=after')).status, 200, `the app serves on: ${script}`);
              process.kill(app.pid, 'SIGTERM');
              return app.exited;
            }),
          );
          assert.deepEqual(exits, Array(2).fill({ code: null, signal: 'SIGTERM' }), script);
          const [bare, traced] = pair;
          assert.equal(bare.app.stderr(), '', script);
          assert.equal(ourLines(traced.app.stderr()).length, 1, `only the start-up line of ours: ${said(traced.app)}`);
          // Every record logged before SIGTERM is flushed on it: a FATAL record, logged at the throw, would be among them.
          const records = recordsOf(traced.service);
          assert.deepEqual(
            records.map((record) => [record.body, record.severityNumber]),
            [
              ['started', 9],
              ['about to throw', 9],
              ['captured', 17],
              ['after 0', 9],
            ],
            `${script}${said(traced.app)}`,
          );
          assert.equal(records[2]?.attributes['exception.message'], 'boom soon', script);
        }),
      );
    });
  }

  // What is thrown need not be an Error, nor one whose fields can be read: the preload's crash hooks
  // read it, and must not throw in Node's exception monitor (exit code 7, their TypeError reported).
  // Thrown in the handler itself, it passes through our server instrumentation first, which records
  // it on the request's span without reading it unguarded (upstream's, OTEL_NODE_UPSTREAM_INSTRUMENTATIONS=http,
  // threw a TypeError of its own in its place) and throws it again: for a value that is no Error,
  // Node's report then shows that line, not the app's.
  const RETHROWN = "Node's report of a thrown value that is no Error shows the line the instrumentation threw it again from";
  for (const [path, where] of [
    ['/throw-soon', "in a request's next turn"],
    ['/throw', 'in a request handler'],
  ] as const) {
    for (const [value, what, report] of [
      ['null-object', 'Object.create(null)', '[Object: null prototype] {}'],
      ['bad-message', 'an Error whose `message` getter throws', '(Use `node --trace-uncaught ...` to show where the exception was thrown)'],
    ] as const) {
      const todo = path === '/throw' && value === 'null-object' ? RETHROWN : undefined;
      it(`a throw of ${what} ${where}: exit code 1 and Node's own report, as bare`, { todo }, async () => {
        await Promise.all(
          EXIT_APPS.map(async (script) => {
            const pair = [start(script, { preload: 'none', env: SLOW_BATCHES }), start(script, { env: SLOW_BATCHES })] as const;
            const exits = await Promise.all(
              pair.map(async ({ app }) => {
                await app.listening;
                const request = await tracedGet(app, `${path}?value=${value}`);
                assert.ok(request.answer instanceof Error, `no answer: ${script}`);
                return app.exited;
              }),
            );
            assert.deepEqual(exits, Array(2).fill({ code: 1, signal: null }), script);
            const [bare, traced] = pair;
            const nodeReport = (stderr: string) => stderr.split('\n').filter((line) => !line.startsWith('@rustok/otel: '));
            assert.ok(nodeReport(bare.app.stderr()).includes(report), `${script} bare${said(bare.app)}`);
            assert.deepEqual(nodeReport(traced.app.stderr()), nodeReport(bare.app.stderr()), script);
            assert.equal(ourLines(traced.app.stderr()).length, 1, `only the start-up line of ours: ${said(traced.app)}`);
          }),
        );
      });
    }
  }

  // A crash is put in the trace of the span that recorded the error on its way out of a request, in the
  // same task: not in that of a request that recorded the same error object long before.
  it("the FATAL record of an error thrown outside any request is in no trace, though an earlier request's span recorded that very error", async () => {
    await Promise.all(
      EXIT_APPS.map(async (script) => {
        const pair = [start(script, { preload: 'none' }), start(script)] as const;
        const requests = await Promise.all(
          pair.map(async ({ app }) => {
            await app.listening;
            const first = await tracedGet(app, '/throw-shared');
            assert.equal(first.answer, 500, `request A is answered by the domain's handler: ${script}${said(app)}`);
            assert.equal((await tracedGet(app, '/throw-shared-later')).answer, 200, script);
            return { traceId: first.traceId, exit: await app.exited };
          }),
        );
        assert.deepEqual(
          requests.map((request) => request.exit),
          Array(2).fill({ code: 1, signal: null }),
          script,
        );
        const [bare, traced] = pair;
        assert.deepEqual(crashReport(traced.app.stderr(), 'shared boom'), crashReport(bare.app.stderr(), 'shared boom'), script);
        const traceA = requests[1]!.traceId;
        const fatal = recordsOf(traced.service).filter((record) => record.severityNumber === 21);
        assert.deepEqual(
          fatal.map((record) => [record.body, record.traceId, record.spanId, record.flags]),
          [['the process ends: uncaught Error: shared boom', '', '', 0]],
          `one FATAL record, in no trace (request A's: ${traceA}): ${script}${said(traced.app)}`,
        );
        const recorded = (await serverSpan(traceA)).events.find((event) => event.name === 'exception');
        assert.equal(
          recorded?.attributes['exception.stacktrace'],
          fatal[0]?.attributes['exception.stacktrace'],
          `A's span recorded it: ${script}`,
        );
      }),
    );
  });
});

describe('OTEL_LOGS_EXPORTER=none', () => {
  const SINKS: Record<string, string> = {
    'pino.cjs': 'stream original true',
    'pino10/pino.mjs': 'stream original true',
    'winston.cjs': 'transports 1',
    'bunyan1/bunyan.mjs': 'streams 1',
  };

  it("sends no record, says `no logs`, and leaves the logger's stream and the app's stdout as bare (but for the trace ids)", async () => {
    await Promise.all(
      Object.entries(SINKS).map(async ([script, sinks]) => {
        const env = { PLAIN: '1', SHOW_SINKS: '1', OTEL_LOGS_EXPORTER: 'none' };
        const pair = [start(script, { preload: 'none', env }), start(script, { env })];
        const [bare, traced] = pair as [ReturnType<typeof start>, ReturnType<typeof start>];
        await Promise.all(pair.map(({ app }) => app.get('/burst?n=2')));
        // The app exports (the sentinel request's span arrived), and the flush on SIGTERM sends whatever
        // records it holds before the process ends: once it has ended, none can still come.
        await sentinel(traced.app, fixture.receiver);
        for (const { app } of pair) process.kill(app.pid, 'SIGTERM');
        for (const { app } of pair) assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' }, script);
        assert.deepEqual(recordsOf(traced.service), [], script);
        assert.match(ourLines(traced.app.stderr()).join('\n'), /; no logs$/, script);
        assert.equal(bare.app.stdout().split('\n')[0], sinks, script);
        const [expected, got] = [comparable(bare.app.stdout()), comparable(traced.app.stdout())];
        assert.equal(got.text, expected.text, script);
        assert.deepEqual([expected.correlated, got.correlated], [0, 2], `the two lines logged in the request carry its trace: ${script}`);
      }),
    );
  });
});

describe("the app's own log output is unchanged with logs on", () => {
  const PINO_APPS = ['pino.cjs', 'pino10/pino.mjs'];
  const scratch = mkdtempSync(join(tmpdir(), 'rustok-otel-logs-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  /**
   * Runs the app bare and preloaded: the requests, then SIGTERM to its handler (which closes the
   * server, so the process ends of itself). Returns what each printed and wrote to its file.
   */
  async function bareAndTraced(script: string, env: Record<string, string>, paths: readonly string[]) {
    const results = await Promise.all(
      (['none', 'import'] as const).map(async (preload) => {
        const file = join(scratch, `${++runs}.log`);
        const run = start(script, { preload, env: { PLAIN: '1', SIGTERM_HANDLER: '1', LOG_FILE: file, ...env } });
        for (const path of paths) assert.equal((await run.app.get(path)).status, 200, `${path}${said(run.app)}`);
        process.kill(run.app.pid, 'SIGTERM');
        assert.deepEqual(await run.app.exited, { code: 0, signal: null }, `${script}${said(run.app)}`);
        return { ...run, file: env.PINO_DEST ? readFileSync(file, 'utf8') : '' };
      }),
    );
    return results as [(typeof results)[number], (typeof results)[number]];
  }

  it('pino to stdout: the same bytes as bare, but for the trace ids on the lines logged in a request', async () => {
    await Promise.all(
      PINO_APPS.map(async (script) => {
        const [bare, traced] = await bareAndTraced(script, {}, ['/burst?n=3']);
        const [expected, got] = [comparable(bare.app.stdout()), comparable(traced.app.stdout())];
        assert.equal(got.text, expected.text, script);
        assert.deepEqual([expected.correlated, got.correlated], [0, 3], script);
        assert.deepEqual(bodies(traced.service), ['started', 'burst 0', 'burst 1', 'burst 2', 'shutting down'], script);
      }),
    );
  });

  it('pino.destination to a file: the same bytes as bare, and logger.flush(cb) has flushed it when cb runs, as bare', async () => {
    await Promise.all(
      PINO_APPS.map(async (script) => {
        const [bare, traced] = await bareAndTraced(script, { PINO_DEST: 'file' }, ['/burst?n=3', '/flush']);
        // The line is held back (minLength) until the flush, which has written it when its callback runs.
        for (const run of [bare, traced])
          assert.match(run.app.stdout(), /\nbefore flush: false\nflushed: true\n/, `${script}${said(run.app)}`);
        const [expected, got] = [comparable(bare.file), comparable(traced.file)];
        assert.equal(got.text, expected.text, script);
        assert.deepEqual([expected.correlated, got.correlated], [0, 4], script);
        assert.deepEqual(bodies(traced.service), ['started', 'burst 0', 'burst 1', 'burst 2', 'before flush', 'shutting down'], script);
      }),
    );
  });

  it('pino.transport to pino/file: the same file as bare', async () => {
    await Promise.all(
      PINO_APPS.map(async (script) => {
        const [bare, traced] = await bareAndTraced(script, { PINO_DEST: 'transport' }, ['/burst?n=3']);
        const [expected, got] = [comparable(bare.file), comparable(traced.file)];
        assert.match(expected.text, /"msg":"shutting down"/, script);
        assert.equal(got.text, expected.text, script);
        assert.deepEqual([expected.correlated, got.correlated], [0, 3], script);
        assert.equal(ourLines(traced.app.stderr()).length, 1, `one start-up line, none from the transport's thread${said(traced.app)}`);
        assert.deepEqual(bodies(traced.service), ['started', 'burst 0', 'burst 1', 'burst 2', 'shutting down'], script);
      }),
    );
  });

  // The multistream ends each of its streams, the one that sends the records included: under the
  // preload the logger's stream is the instrumentation's multistream, with the app's own in it.
  it("the app's own pino.multistream to a file, the logger's stream ended with end(): the same file as bare, the records sent", async () => {
    await Promise.all(
      PINO_APPS.map(async (script) => {
        const results = await Promise.all(
          (['none', 'import'] as const).map(async (preload) => {
            const file = join(scratch, `${++runs}.log`);
            const env = { ...SLOW_BATCHES, PLAIN: '1', PINO_MULTI: '1', PINO_DEST: 'file', LOG_FILE: file };
            const run = start(script, { preload, env });
            assert.equal((await run.app.get('/burst?n=2')).status, 200, `${script}${said(run.app)}`);
            const ended = await run.app
              .get('/end')
              .catch(async (error: Error) => `${error.message}: ${JSON.stringify(await run.app.exited)}${said(run.app)}`);
            assert.deepEqual(ended, { status: 200, body: 'ended' }, script);
            process.kill(run.app.pid, 'SIGTERM');
            assert.deepEqual(await run.app.exited, { code: null, signal: 'SIGTERM' }, `${script}${said(run.app)}`);
            return { ...run, file: readFileSync(file, 'utf8') };
          }),
        );
        const [bare, traced] = results as [(typeof results)[number], (typeof results)[number]];
        const [expected, got] = [comparable(bare.file), comparable(traced.file)];
        assert.match(expected.text, /"msg":"ending"/, script);
        assert.equal(got.text, expected.text, script);
        assert.deepEqual([expected.correlated, got.correlated], [0, 3], script);
        assert.equal(ourLines(traced.app.stderr()).length, 1, `only the start-up line of ours${said(traced.app)}`);
        assert.deepEqual(bodies(traced.service), ['started', 'burst 0', 'burst 1', 'ending'], script);
      }),
    );
  });
});

describe('records of any size', () => {
  const KIB = 1024;
  const MAX_CHARS = 256 * KIB;

  // The export thread's heap is capped, and a collector takes messages up to 4 MiB (the receiver's gRPC
  // server, as the collector's, by default): records are bounded in bytes on their way, queued and batched.
  it('a burst of 600 records of 100 KiB, and one of 4 MiB: the export thread lives on, the app serves on, records arrive, the longest cut to 256 KiB', async () => {
    const { app, service } = start('pino.cjs', {
      protocol: 'grpc',
      env: { ...FAST_LOGS, PLAIN: '1', PINO_DEST: 'file', LOG_FILE: devNull },
    });
    await app.listening;
    // A line cut short is no JSON: the record's body is its text, as written, up to the bound.
    const cut = () => recordsOf(service).filter((record) => typeof record.body === 'string' && record.body.startsWith('{'));
    const huge = await tracedGet(app, '/large?n=1&kb=4096&label=huge');
    assert.equal(huge.answer, 200);
    await fixture.receiver
      .waitForLogs(() => cut().length > 0, 10_000)
      .catch(() => assert.fail(`no record of the 4 MiB line: ${app.stderr()}`));
    assert.equal((await app.get('/large?n=600&kb=100')).status, 200);
    // The app serves, and exports: a request made after the burst has its span arrive.
    await sentinel(app, fixture.receiver);
    const large = () => recordsOf(service).filter((record) => String(record.body).startsWith('large '));
    await fixture.receiver
      .waitForLogs(() => large().length > 0, 10_000)
      .catch(() => assert.fail(`no record of the burst: ${app.stderr()}`));
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' }, app.stderr());

    assert.doesNotMatch(app.stderr(), /export thread stopped/);
    // Besides the start-up line, at most the line that the log queue is full: no export refused as too large.
    const [, ...more] = ourLines(app.stderr());
    assert.deepEqual(
      more.filter((line) => !line.startsWith('the log queue is full')),
      [],
      app.stderr(),
    );
    const longest = one(cut(), 'record of the 4 MiB line');
    const body = String(longest.body);
    assert.equal(body.length, MAX_CHARS);
    assert.match(
      body.slice(0, 200),
      new RegExp(`^\\{"level":30,"trace_id":"${huge.traceId}","span_id":"[0-9a-f]{16}","trace_flags":"01","data":"x`),
    );
    assert.match(body.slice(-100), /^x+$/);
    assert.deepEqual([longest.severityNumber, longest.traceId], [9, huge.traceId]);
    const received = large();
    assert.ok(received.length > 0 && received.length <= 600, `${received.length} records of the burst`);
    assert.equal(new Set(received.map((record) => record.body)).size, received.length, 'each at most once');
    for (const record of received) assert.equal(String(record.attributes.data).length, 100 * KIB, String(record.body));
  });
});

describe('a collector that fails', () => {
  // No span is made (only pino is instrumented): every export the receiver refuses is one of log records.
  const LOGS_ONLY = {
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pino',
    OTEL_BLRP_SCHEDULE_DELAY: '50',
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
  };

  for (const [protocol, fault] of [
    ['grpc', 'reject'],
    ['http/protobuf', 'unavailable'],
  ] as const) {
    it(`${fault} over ${protocol}: one line that logs cannot be exported, the app serves on, then one line with the records dropped`, async () => {
      fixture.receiver.setFault(fault);
      after(() => fixture.receiver.setFault(undefined));
      const refusedBefore = fixture.receiver.refusedExports();
      const { app, service } = start('pino.cjs', { protocol, env: LOGS_ONLY });
      // The `started` record's export failed (for `unavailable`, once its retries ran out).
      await app.waitForStderr(/cannot export logs/);
      assert.equal((await app.get('/burst?n=4&label=during')).status, 200, 'the app serves while its records cannot be exported');
      if (fault === 'reject') await fixture.receiver.waitForRefused(refusedBefore + 2);
      fixture.receiver.setFault(undefined);
      assert.equal((await app.get('/burst?n=2&label=after')).status, 200);
      const [, dropped] = await app.waitForStderr(/exporting logs to .* again; (\d+) log records? (?:was|were) dropped meanwhile/);
      await waitForBodies(app, service, ['after 0', 'after 1']);
      process.kill(app.pid, 'SIGTERM');
      await app.exited;
      const destination = protocol === 'grpc' ? `grpc ${fixture.receiver.grpcUrl}` : `http/protobuf ${fixture.receiver.httpUrl}/v1/logs`;
      const lines = ourLines(app.stderr());
      assert.equal(lines.length, 3, app.stderr());
      assert.ok(lines[1]?.startsWith(`cannot export logs to ${destination}: `), lines[1]);
      assert.ok(lines[1]?.endsWith('The app is unaffected; logs are dropped until the collector answers'), lines[1]);
      assert.equal(
        lines[2],
        `exporting logs to ${destination} again; ${dropped} ${dropped === '1' ? 'log record was' : 'log records were'} dropped meanwhile`,
      );
      // Every record logged either arrived or was counted as dropped: 1 + 4 + 2 in all.
      assert.equal(Number(dropped) + recordsOf(service).length, 7, `${dropped} dropped, received ${bodies(service).join(', ')}`);
      // Refused outright, with no retry: the `started` record and the four logged during the outage.
      if (fault === 'reject') assert.deepEqual(bodies(service), ['after 0', 'after 1']);
    });
  }

  it('hanging: the log queue overflows with ONE line, the app serves on, and ends on SIGTERM within the shutdown timeout', async () => {
    fixture.receiver.setFault('hang');
    after(() => fixture.receiver.setFault(undefined));
    const QUEUE = { OTEL_BLRP_MAX_QUEUE_SIZE: '10', OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '10', OTEL_SHUTDOWN_TIMEOUT_MS: '500' };
    await Promise.all(
      PROTOCOLS.map(async (protocol) => {
        const { app, service } = start('pino.cjs', { protocol, env: { ...LOGS_ONLY, ...QUEUE } });
        await app.listening;
        assert.equal((await app.get('/burst?n=100')).status, 200);
        await app.waitForStderr(/the log queue is full/);
        assert.equal((await app.get('/burst?n=100&label=more')).status, 200, 'the app serves while the queue is full');
        const signalled = Date.now();
        process.kill(app.pid, 'SIGTERM');
        assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
        assert.ok(Date.now() - signalled < 3000, `ended ${Date.now() - signalled} ms after SIGTERM`);
        const full = ourLines(app.stderr()).filter((line) => line.startsWith('the log queue is full'));
        assert.deepEqual(full, [
          'the log queue is full (OTEL_BLRP_MAX_QUEUE_SIZE=10, or 16 MiB); log records are dropped until it drains. Raise it, or log less',
        ]);
        assert.deepEqual(recordsOf(service), []);
      }),
    );
  });
});
