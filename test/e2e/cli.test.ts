// The `rustok-otel` command as a user runs it: the bin npm installed into the app, in the app's
// directory, with the app's environment.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DoctorReport } from '../../src/cli/doctor.js';
import { APP_DIR, startApp, WAIT_MS } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { closedPort } from '../helpers/target.js';

const fixture = useFixture();
const BIN = join(APP_DIR, 'node_modules/.bin/rustok-otel');

/** The bin, run as `npx rustok-otel …` would run it: in the app's directory, with the app's environment. */
function rustokOtel(args: readonly string[], env: Record<string, string | undefined> = {}, cwd = APP_DIR) {
  return startApp(BIN, { preload: 'none', args, cwd, env: { OTEL_ENABLED: undefined, OTEL_EXPORTER_OTLP_TIMEOUT: '3000', ...env } });
}

async function run(args: readonly string[], env: Record<string, string | undefined>, cwd = APP_DIR) {
  const command = rustokOtel(args, env, cwd);
  const { code } = await command.exited;
  return { code, stdout: command.stdout(), stderr: command.stderr() };
}

async function doctor(env: Record<string, string | undefined>): Promise<{ code: number | null; report: DoctorReport; stderr: string }> {
  const result = await run(['doctor', '--json'], { OTEL_ENABLED: 'true', NODE_OPTIONS: '--import @rustok/otel/register', ...env });
  return { code: result.code, report: JSON.parse(result.stdout), stderr: result.stderr };
}

const setting = (report: DoctorReport, name: string) => report.configuration.find((entry) => entry.setting === name);
/** Where the fixture app's name and version come from. */
const APP_PACKAGE = join(APP_DIR, 'package.json');

describe('rustok-otel doctor', () => {
  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`is healthy against a live collector over ${protocol}, and the test span arrives with the app's name`, async () => {
      const { code, report, stderr } = await doctor({
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT: protocol === 'grpc' ? fixture.receiver.grpcUrl : fixture.receiver.httpUrl,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=supersecret',
      });
      assert.equal(code, 0, JSON.stringify(report, null, 2));
      assert.equal(stderr, '', 'the preload in NODE_OPTIONS leaves the doctor itself untraced');
      assert.equal(report.healthy, true);
      assert.equal(report.export.ok, true);
      assert.ok(report.export.ok && report.export.roundTripMillis >= 0);
      assert.deepEqual(report.checks, []);
      assert.deepEqual(setting(report, 'service.name'), { setting: 'service.name', value: 'fixture-shop', source: APP_PACKAGE });
      assert.deepEqual(setting(report, 'protocol'), { setting: 'protocol', value: protocol, source: 'OTEL_EXPORTER_OTLP_PROTOCOL' });
      assert.deepEqual(setting(report, 'headers'), {
        setting: 'headers',
        value: '1 header (hidden)',
        source: 'OTEL_EXPORTER_OTLP_HEADERS',
      });
      assert.ok(!JSON.stringify(report).includes('supersecret'), 'header values are never printed');
      assert.ok(!JSON.stringify(report).includes('x-api-key'), 'nor their names');
      assert.deepEqual(report.instrumentations, {
        loaded: ['express', 'http', 'pino', 'undici'],
        uninstrumented: ['serverless-http', 'tsx', 'typescript'],
      });
      assert.match(report.versions.node ?? '', /^\d+\.\d+\.\d+$/);
      assert.equal(report.versions['@rustok/otel'], '0.1.0');
      const spans = await fixture.receiver.waitFor((all) => all.some((span) => span.name === 'rustok-otel doctor'));
      const span = spans.find(
        (candidate) => candidate.name === 'rustok-otel doctor' && candidate.via === (protocol === 'grpc' ? 'grpc' : 'http'),
      );
      assert.equal(span?.resource['service.name'], 'fixture-shop');
      // And a test log record, in the test span's trace.
      assert.ok(report.logsExport?.ok, JSON.stringify(report.logsExport));
      const via = protocol === 'grpc' ? 'grpc' : 'http';
      const logs = await fixture.receiver.waitForLogs((all) =>
        all.some((log) => log.body === 'rustok-otel doctor: a test log record' && log.via === via),
      );
      const log = logs.find((candidate) => candidate.body === 'rustok-otel doctor: a test log record' && candidate.via === via);
      assert.deepEqual([log?.traceId, log?.spanId, log?.resource['service.name']], [span?.traceId, span?.spanId, 'fixture-shop']);
    });
  }

  it('diagnoses a refused port and exits 1', async () => {
    const port = await closedPort();
    const { code, report } = await doctor({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    assert.equal(code, 1);
    assert.equal(report.healthy, false);
    assert.ok(!report.export.ok);
    assert.match(report.export.error, /ECONNREFUSED/);
    assert.equal(
      report.export.fix,
      `nothing accepts connections on port ${port} there; start the collector or fix the port (OTLP listens on 4317 for gRPC, 4318 for HTTP)`,
    );
  });

  it('diagnoses gRPC sent to an OTLP/HTTP port', async () => {
    const { code, report } = await doctor({ OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.httpUrl });
    assert.equal(code, 1);
    assert.ok(!report.export.ok);
    assert.match(report.export.fix, /^the endpoint does not speak gRPC; port 4318 is OTLP over HTTP/);
  });

  it('diagnoses OTLP/HTTP sent to a gRPC port', async () => {
    const { code, report } = await doctor({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl,
    });
    assert.equal(code, 1);
    assert.ok(!report.export.ok);
    assert.match(report.export.fix, /^the endpoint does not speak OTLP over HTTP; port 4317 is gRPC/);
  });

  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`diagnoses https:// to a plaintext collector over ${protocol}`, async () => {
      const { code, report } = await doctor({
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT: (protocol === 'grpc' ? fixture.receiver.grpcUrl : fixture.receiver.httpUrl).replace('http:', 'https:'),
      });
      assert.equal(code, 1);
      assert.ok(!report.export.ok);
      assert.equal(report.export.fix, 'TLS failed: if the collector speaks plaintext, use http:// instead of https://');
    });
  }

  it('diagnoses a host name that does not resolve', async () => {
    const { code, report } = await doctor({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.invalid:4317' });
    assert.equal(code, 1);
    assert.ok(!report.export.ok);
    assert.equal(report.export.fix, 'the host name does not resolve; check the endpoint');
  });

  it('names the traps: tracing off, a NODE_OPTIONS without the preload, a bad value', async () => {
    const { code, report } = await doctor({
      OTEL_ENABLED: undefined,
      NODE_OPTIONS: '--max-old-space-size=512',
      OTEL_SAMPLING_RATE: '2',
      OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl,
    });
    assert.equal(code, 1);
    assert.equal(report.export.ok, true, 'the collector itself is fine');
    assert.deepEqual(report.checks, [
      {
        level: 'error',
        message: 'OTEL_ENABLED is not set here: the preload loads and does nothing. Set OTEL_ENABLED=true where the app starts',
      },
      {
        level: 'error',
        message:
          'NODE_OPTIONS is set ("--max-old-space-size=512") without --import @rustok/otel/register: a NODE_OPTIONS set later replaces the one that loaded the preload. Add it there',
      },
      { level: 'warning', message: 'OTEL_SAMPLING_RATE="2" is outside 0..1; using 1' },
    ]);
    assert.deepEqual(setting(report, 'tracing'), { setting: 'tracing', value: 'off', source: 'default' });
  });

  it('warns about a bundled entry, a missing service name and a port that belongs to the other protocol', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rustok-bundled-'));
    try {
      const start = 'node --import @rustok/otel/register dist/server.js';
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ main: 'dist/server.js', scripts: { start } }));
      mkdirSync(join(dir, 'dist'));
      writeFileSync(join(dir, 'dist/server.js'), 'var __webpack_require__ = {}; /* express, pg, bundled */\n');
      const result = await run(['doctor', '--json'], { OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, dir);
      const report: DoctorReport = JSON.parse(result.stdout);
      assert.deepEqual(
        report.checks.map((check) => `${check.level}: ${check.message}`),
        [
          'warning: dist/server.js looks bundled (webpack, esbuild, ncc): modules inlined into a bundle are never required by name, so their instrumentations cannot patch them. Mark instrumented packages (express, pg, …) external',
          'warning: service.name will be unknown_service:node: set OTEL_SERVICE_NAME, or a name in package.json',
          'warning: gRPC to port 4318, which is OTLP over HTTP: use port 4317, or OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf',
        ],
      );
      assert.deepEqual(setting(report, 'service.name'), { setting: 'service.name', value: 'unknown_service:node', source: 'default' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns about a crossed port for metrics alone, naming their own protocol variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rustok-crossed-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'crossed' }));
      const env = {
        OTEL_ENABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        OTEL_LOGS_EXPORTER: 'none',
      };
      const report: DoctorReport = JSON.parse((await run(['doctor', '--json'], env, dir)).stdout);
      assert.deepEqual(
        report.checks.filter((check) => check.message.includes(' to port ')).map((check) => check.message),
        ['gRPC to port 4318 (metrics), which is OTLP over HTTP: use port 4317, or OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("warns about a crossed port for logs, alone or with metrics, naming each signal's own protocol variable", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rustok-crossed-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'crossed' }));
      const crossedTo4318 = {
        OTEL_ENABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      };
      const cases: [Record<string, string>, string][] = [
        [
          { ...crossedTo4318, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' },
          'gRPC to port 4318 (logs), which is OTLP over HTTP: use port 4317, or OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf',
        ],
        [
          crossedTo4318,
          'gRPC to port 4318 (metrics and logs), which is OTLP over HTTP: use port 4317, or ' +
            'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf and OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf',
        ],
        [
          {
            OTEL_ENABLED: 'true',
            OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
            OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://127.0.0.1:4317/v1/logs',
          },
          'OTLP over HTTP to port 4317 (logs), which is gRPC: use port 4318, or OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=grpc',
        ],
      ];
      for (const [env, expected] of cases) {
        const report: DoctorReport = JSON.parse((await run(['doctor', '--json'], env, dir)).stdout);
        assert.deepEqual(
          report.checks.filter((check) => check.message.includes(' to port ')).map((check) => check.message),
          [expected],
          JSON.stringify(env),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports on an app whose main is a directory or whose package.json is not an object', async () => {
    for (const manifest of ['{ "name": "lib-app", "main": "lib" }', 'null']) {
      const dir = mkdtempSync(join(tmpdir(), 'rustok-odd-'));
      try {
        writeFileSync(join(dir, 'package.json'), manifest);
        mkdirSync(join(dir, 'lib'));
        const result = await run(
          ['doctor', '--json'],
          { OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl },
          dir,
        );
        assert.equal(result.code, 0, `${manifest}: ${result.stdout}${result.stderr}`);
        assert.equal((JSON.parse(result.stdout) as DoctorReport).export.ok, true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("takes each value's source from the config module: OTEL_RESOURCE_ATTRIBUTES without service.name leaves the name to package.json", async () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl };
    const without = (await doctor({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: 'team=a' })).report;
    assert.deepEqual(setting(without, 'service.name'), { setting: 'service.name', value: 'fixture-shop', source: APP_PACKAGE });
    assert.deepEqual(setting(without, 'service.version'), { setting: 'service.version', value: '3.1.4', source: APP_PACKAGE });
    const withName = (await doctor({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: 'team=a,service.name=from-attributes' })).report;
    assert.deepEqual(setting(withName, 'service.name'), {
      setting: 'service.name',
      value: 'from-attributes',
      source: 'OTEL_RESOURCE_ATTRIBUTES',
    });
    assert.deepEqual(setting(withName, 'service.version'), { setting: 'service.version', value: '3.1.4', source: APP_PACKAGE });
  });

  it('shows the metrics exporter settings on their own, from their own variables', async () => {
    const { report } = await doctor({
      OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'a=1,b=2',
      OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: 'metrics-ca.pem',
    });
    const port = new URL(fixture.receiver.grpcUrl).port;
    assert.deepEqual(
      report.configuration.filter((entry) => entry.setting.startsWith('metrics')),
      [
        { setting: 'metrics', value: 'otlp', source: 'default' },
        { setting: 'metrics protocol', value: 'http/protobuf', source: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL' },
        { setting: 'metrics endpoint', value: `http://127.0.0.1:${port}/v1/metrics`, source: 'OTEL_EXPORTER_OTLP_ENDPOINT' },
        { setting: 'metrics headers', value: '2 headers (hidden)', source: 'OTEL_EXPORTER_OTLP_METRICS_HEADERS' },
        { setting: 'metrics export timeout', value: '2500 ms', source: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT' },
        { setting: 'metrics compression', value: 'gzip', source: 'OTEL_EXPORTER_OTLP_COMPRESSION' },
        {
          setting: 'metrics TLS files',
          value: '(unused: the endpoint is not https://) authority metrics-ca.pem (cannot be read: ENOENT)',
          source: 'OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE',
        },
        { setting: 'metrics interval', value: '60 s', source: 'default' },
      ],
    );
  });

  it('shows the logs exporter settings on their own, from their own variables, the endpoint redacted and the headers counted', async () => {
    const port = new URL(fixture.receiver.grpcUrl).port;
    const { report } = await doctor({
      OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl,
      OTEL_LOGS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `http://l0gsUser:l0gsP4ss@127.0.0.1:${port}/v1/logs?key=l0gQueryKey`,
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-api-key=l0gsApiKey,b=2',
      OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '2500',
    });
    assert.deepEqual(
      report.configuration.filter((entry) => entry.setting.startsWith('logs')),
      [
        { setting: 'logs', value: 'otlp', source: 'OTEL_LOGS_EXPORTER' },
        { setting: 'logs protocol', value: 'http/protobuf', source: 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL' },
        { setting: 'logs endpoint', value: `http://***@127.0.0.1:${port}/v1/logs?***`, source: 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT' },
        { setting: 'logs headers', value: '2 headers (hidden)', source: 'OTEL_EXPORTER_OTLP_LOGS_HEADERS' },
        { setting: 'logs export timeout', value: '2500 ms', source: 'OTEL_EXPORTER_OTLP_LOGS_TIMEOUT' },
        { setting: 'logs compression', value: 'none', source: 'default' },
        { setting: 'logs TLS files', value: "(none: the system's authorities)", source: 'default' },
      ],
    );
    const json = JSON.stringify(report);
    for (const secret of ['l0gsUser', 'l0gsP4ss', 'l0gQueryKey', 'l0gsApiKey', 'x-api-key']) {
      assert.ok(!json.includes(secret), `${secret} is in the report`);
    }
  });

  it('shows only the logs exporter when it is none', async () => {
    const { report } = await doctor({ OTEL_EXPORTER_OTLP_ENDPOINT: fixture.receiver.grpcUrl, OTEL_LOGS_EXPORTER: 'none' });
    assert.deepEqual(
      report.configuration.filter((entry) => entry.setting.startsWith('logs')),
      [{ setting: 'logs', value: 'none', source: 'OTEL_LOGS_EXPORTER' }],
    );
  });

  it('prints a report for a person without --json', async () => {
    const port = await closedPort();
    const result = await run(['doctor'], { OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^rustok-otel doctor in /);
    assert.match(
      result.stdout,
      new RegExp(`^ {2}service\\.name +fixture-shop +${APP_PACKAGE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
    );
    assert.match(result.stdout, /^Instrumentations that will load \(4\): express, http, pino, undici$/m);
    assert.match(result.stdout, /^ {2}! neither NODE_OPTIONS nor the start script loads the preload/m);
    assert.match(result.stdout, new RegExp(`^ {2}✗ no test span reached grpc http://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`, 'm'));
    assert.match(result.stdout, /^ {4}fix: nothing accepts connections on port/m);
    assert.match(result.stdout, /^Not healthy/m);
  });
});

describe('rustok-otel dev', () => {
  const files = mkdtempSync(join(tmpdir(), 'rustok-dev-'));
  after(() => rmSync(files, { recursive: true, force: true }));

  it('prints each trace of a traced app as a waterfall and appends it as a JSON line', async () => {
    const jsonFile = join(files, 'traces.jsonl');
    const dev = rustokOtel(['dev', '--grpc-port', '0', '--http-port', '0', '--json-file', jsonFile]);
    const [, grpcUrl] = await dev.waitForStdout(/OTLP gRPC on (http:\/\/127\.0\.0\.1:\d+),/);

    // One batch, sent when the app ends: the traces cannot arrive in pieces however loaded the machine.
    const app = startApp('server.cjs', {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: grpcUrl, OTEL_SERVICE_NAME: 'dev-shop', OTEL_BSP_SCHEDULE_DELAY: '600000' },
    });
    assert.equal((await app.get('/hello')).status, 200);
    assert.equal((await app.get('/boom')).status, 500);
    const port = await app.listening;
    process.kill(app.pid, 'SIGTERM');
    await dev.waitForStdout(/^trace [0-9a-f]{32} {2}dev-shop {2}1 span /m);
    const output = dev.stdout();

    // Names, kinds, nesting and the key attributes; not timings.
    const shape = output
      .split('\n')
      .map((line) => line.match(/^( +)(\S+) +(server|client) +[█ ]+ +[\d.]+ ms {2}(.*)$/))
      .filter((match) => match !== null)
      .map(([, indent, name, kind, rest]) => `${indent}${name} [${kind}] ${rest}`);
    assert.deepEqual(shape, [
      '  GET [server] 200 /hello',
      `    GET [client] 200 http://127.0.0.1:${port}/downstream`,
      '      GET [server] 200 /downstream',
      '  GET [server] 500 /boom  ERROR',
    ]);
    assert.match(output, /^trace [0-9a-f]{32} {2}dev-shop {2}3 spans {2}[\d.]+ ms$/m);

    const lines = readFileSync(jsonFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((trace) => [trace.service, trace.spans.length]),
      [
        ['dev-shop', 3],
        ['dev-shop', 1],
      ],
    );
    assert.equal(lines[0].spans.filter((span: { parentSpanId?: string }) => span.parentSpanId === undefined).length, 1);
  });

  it('answers a request that is not OTLP protobuf as invalid, says so once, and keeps running', async () => {
    const dev = rustokOtel(['dev', '--grpc-port', '0', '--http-port', '0', '--json-file', '/nonexistent/dir/t.jsonl']);
    const [, httpUrl] = await dev.waitForStdout(/HTTP on (http:\/\/127\.0\.0\.1:\d+);/);
    for (const body of ['garbage', '{"resourceSpans":[]}']) {
      const response = await fetch(`${httpUrl}/v1/traces`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(WAIT_MS),
      });
      assert.equal(response.status, 400);
      assert.match(await response.text(), /^not an OTLP protobuf request/);
    }
    // Still there: a traced app's spans print, and the unwritable JSON file is said once, not fatal.
    const app = startApp('server.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } });
    assert.equal((await app.get('/boom')).status, 500);
    await dev.waitForStdout(/^trace /m);
    const output = dev.stdout();
    assert.equal(output.match(/rejected a request/g)?.length, 1);
    assert.match(
      output,
      /^rustok-otel dev: rejected a request that is not an OTLP protobuf request \(.+\); this receiver speaks OTLP over gRPC and HTTP\/protobuf, not HTTP\/JSON$/m,
    );
    assert.match(output, /^rustok-otel dev: cannot write to \/nonexistent\/dir\/t\.jsonl \(ENOENT.*\); printing only$/m);
  });

  it('says which port is taken and exits 2', async () => {
    const result = await run(['dev', '--grpc-port', '0', '--http-port', new URL(fixture.receiver.httpUrl).port], {});
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^rustok-otel: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+; another collector may be running there/,
    );
  });
});
