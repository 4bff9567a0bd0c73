import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { APP_DIR, ourLines, startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const fixture = useFixture();
/** The app fixture's self-signed certificate for localhost and 127.0.0.1: its own authority. */
const SERVER_CERT = join(APP_DIR, 'localhost-cert.pem');
const SERVER_KEY = join(APP_DIR, 'localhost-key.pem');

/** The spans of one run of the 3-call script under the preload, and its lines but the start line. */
async function runScript(receiver: Receiver, env: Record<string, string>, protocol: 'grpc' | 'http/protobuf' = 'grpc') {
  const service = `tls-${Math.random().toString(36).slice(2)}`;
  const app = startApp('script.cjs', {
    receiver,
    protocol,
    env: { OTEL_SERVICE_NAME: service, OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', TARGET_URL: fixture.target.url, ...env },
  });
  assert.deepEqual(await app.exited, { code: 0, signal: null });
  assert.match(app.stdout(), /script done/);
  const spans = () => receiver.spans.filter((span) => span.resource['service.name'] === service);
  return { lines: ourLines(app.stderr()).filter((line) => !line.startsWith('tracing ')), spans, stderr: app.stderr() };
}

describe('OTLP over gRPC with TLS', () => {
  let tls: Receiver;
  let mutual: Receiver;
  const dir = mkdtempSync(join(tmpdir(), 'rustok-otel-grpc-'));
  const clientKey = join(dir, 'client-key.pem');
  const clientCert = join(dir, 'client-cert.pem');
  before(async () => {
    // A client certificate of its own authority, which the mutual-TLS collector trusts.
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
        ...['-keyout', clientKey, '-out', clientCert, '-days', '2', '-subj', '/CN=rustok-otel-test-client'],
      ],
      { stdio: 'ignore' },
    );
    const server = { key: readFileSync(SERVER_KEY), cert: readFileSync(SERVER_CERT) };
    tls = await startReceiver({ tls: server });
    mutual = await startReceiver({ tls: { ...server, clientCa: readFileSync(clientCert) } });
  });
  after(async () => {
    await Promise.all([tls?.close(), mutual?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`exports over ${protocol} to an https:// collector whose authority OTEL_EXPORTER_OTLP_CERTIFICATE names`, async () => {
      const run = await runScript(tls, { OTEL_EXPORTER_OTLP_CERTIFICATE: SERVER_CERT }, protocol);
      assert.deepEqual(run.lines, [], run.stderr);
      assert.deepEqual(
        run
          .spans()
          .map((span) => span.name)
          .sort(),
        ['GET', 'GET', 'GET'],
      );
    });

    it(`sends a client certificate over ${protocol} where the collector asks for one, a signal’s own variables first`, async () => {
      const run = await runScript(
        mutual,
        {
          OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: SERVER_CERT,
          OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'no-such-file.pem'),
          OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: clientKey,
          OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: clientCert,
        },
        protocol,
      );
      assert.deepEqual(run.lines, [], run.stderr);
      assert.equal(run.spans().length, 3);
    });
  }

  it('explains a certificate it does not trust, in one line', async () => {
    const run = await runScript(tls, {});
    assert.equal(run.lines.length, 1, run.stderr);
    assert.match(
      run.lines[0] ?? '',
      /^cannot export spans to grpc https:.*self[- ]signed certificate.*; the collector's certificate is not trusted here; set OTEL_EXPORTER_OTLP_CERTIFICATE to the file of the authority that signed it\./,
    );
    assert.equal(run.spans().length, 0);
  });

  it('explains a certificate issued to another host name, in one line', async () => {
    // A certificate for 127.0.0.1 alone, reached as localhost.
    const key = join(dir, 'ip-key.pem');
    const cert = join(dir, 'ip-cert.pem');
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert],
        ...['-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      ],
      { stdio: 'ignore' },
    );
    const ipOnly = await startReceiver({ tls: { key: readFileSync(key), cert: readFileSync(cert) } });
    after(() => ipOnly.close());
    const endpoint = ipOnly.grpcUrl.replace('127.0.0.1', 'localhost');
    const run = await runScript(ipOnly, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_CERTIFICATE: cert });
    assert.equal(run.lines.length, 1, run.stderr);
    assert.match(
      run.lines[0] ?? '',
      /Hostname\/IP does not match .*; the collector's certificate is not for the endpoint's host; use the name it was issued to\./,
    );
  });

  it('reads an endpoint written HTTPS:// as https://', async () => {
    const run = await runScript(tls, {
      OTEL_EXPORTER_OTLP_ENDPOINT: tls.grpcUrl.replace('https:', 'HTTPS:'),
      OTEL_EXPORTER_OTLP_CERTIFICATE: SERVER_CERT,
    });
    assert.deepEqual(run.lines, [], run.stderr);
    assert.equal(run.spans().length, 3);
  });

  it('says a client key and certificate that are not a pair once, and sends none', async () => {
    const otherKey = join(dir, 'other-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'ignore' });
    const run = await runScript(tls, {
      OTEL_EXPORTER_OTLP_CERTIFICATE: SERVER_CERT,
      OTEL_EXPORTER_OTLP_CLIENT_KEY: otherKey,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: clientCert,
    });
    assert.deepEqual(
      run.lines,
      [
        `the files OTEL_EXPORTER_OTLP_CLIENT_KEY and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE="${clientCert}" name are not a key and its certificate (key values mismatch); no client certificate is sent`,
      ],
      run.stderr,
    );
    assert.equal(run.spans().length, 3);
  });

  it('keeps one TLS connection for its exports over http/protobuf', async () => {
    let connections = 0;
    let exports = 0;
    const exported = new EventEmitter();
    const collector = createHttpsServer({ key: readFileSync(SERVER_KEY), cert: readFileSync(SERVER_CERT) }, (request, response) => {
      request.resume().on('end', () => {
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        exports++;
        exported.emit('export');
      });
    });
    collector.on('secureConnection', () => connections++);
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    after(() => collector.close());
    const app = startApp('server.cjs', {
      env: {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${(collector.address() as { port: number }).port}`,
        OTEL_EXPORTER_OTLP_CERTIFICATE: SERVER_CERT,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
    });
    for (let i = 1; i <= 3; i++) {
      assert.equal((await app.get('/hello')).status, 200);
      while (exports < i) await once(exported, 'export', { signal: AbortSignal.timeout(10_000) });
    }
    assert.equal(connections, 1);
  });

  it('explains a collector that asks for a client certificate, in one line', async () => {
    const run = await runScript(mutual, { OTEL_EXPORTER_OTLP_CERTIFICATE: SERVER_CERT });
    assert.equal(run.lines.length, 1, run.stderr);
    assert.match(
      run.lines[0] ?? '',
      /; the collector asks for a client certificate; set OTEL_EXPORTER_OTLP_CLIENT_KEY and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE\./,
    );
  });

  it('says which TLS file it cannot read, and goes on without it', async () => {
    const missing = join(dir, 'no-such-file.pem');
    const run = await runScript(tls, { OTEL_EXPORTER_OTLP_CERTIFICATE: missing });
    assert.equal(run.lines.length, 2, run.stderr);
    assert.equal(run.lines[0], `cannot read OTEL_EXPORTER_OTLP_CERTIFICATE="${missing}" (ENOENT); the exporter goes on without it`);
    assert.match(run.lines[1] ?? '', /the collector's certificate is not trusted here/);
  });

  it('never shows what a client key variable holds when it is no readable file (a key in base64, say)', async () => {
    const base64 = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5';
    const run = await runScript(tls, {
      OTEL_EXPORTER_OTLP_CERTIFICATE: SERVER_CERT,
      OTEL_EXPORTER_OTLP_CLIENT_KEY: base64,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: clientCert,
    });
    assert.deepEqual(
      run.lines,
      ['cannot read the file OTEL_EXPORTER_OTLP_CLIENT_KEY names (ENOENT); the exporter goes on without it'],
      run.stderr,
    );
    assert.ok(!run.stderr.includes(base64.slice(0, 16)));
    assert.equal(run.spans().length, 3);
  });

  it('says a client key without its certificate is not used', async () => {
    const run = await runScript(tls, { OTEL_EXPORTER_OTLP_CERTIFICATE: SERVER_CERT, OTEL_EXPORTER_OTLP_CLIENT_KEY: clientKey });
    assert.deepEqual(
      run.lines,
      [
        "OTEL_EXPORTER_OTLP_CLIENT_KEY is set, but no OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (or a signal's own) goes with it; traces go without a client certificate",
      ],
      run.stderr,
    );
    assert.equal(run.spans().length, 3);
  });
});

describe('OTLP over gRPC', () => {
  it('compresses with gzip when OTEL_EXPORTER_OTLP_COMPRESSION says so, which a gRPC collector reads', async () => {
    const run = await runScript(fixture.receiver, { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' });
    assert.deepEqual(run.lines, [], run.stderr);
    assert.equal(run.spans().length, 3);
    // What went on the wire, which the collector above decompresses unseen: one gRPC call's headers and frame.
    const calls: { encoding: unknown; flag: number | undefined }[] = [];
    const wire = createHttp2Server();
    wire.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        calls.push({ encoding: headers['grpc-encoding'], flag: Buffer.concat(chunks)[0] });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
      });
    });
    wire.listen(0, '127.0.0.1');
    await once(wire, 'listening');
    after(() => wire.close());
    const endpoint = `http://127.0.0.1:${(wire.address() as { port: number }).port}`;
    const app = startApp('script.cjs', {
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        TARGET_URL: fixture.target.url,
      },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.deepEqual(calls, [{ encoding: 'gzip', flag: 1 }]);
  });

  it('is the export thread’s own: its bundle carries no @grpc/grpc-js', () => {
    const bundle = readFileSync(join(APP_DIR, 'node_modules/@rustok/otel/dist/export-worker.cjs'), 'utf8');
    assert.ok(bundle.includes('application/grpc'));
    assert.ok(!bundle.includes('@grpc/grpc-js'));
  });
});
