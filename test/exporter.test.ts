import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { ourLines, startApp, stopApps } from './helpers/app.js';
import { type Receiver, startReceiver } from './helpers/receiver.js';

let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());
afterEach(stopApps);

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('when the collector is unreachable', () => {
  it('keeps serving, says so once, and still exits by the signal', async () => {
    const port = await closedPort();
    const app = startApp('server.cjs', {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, NODE_OPTIONS: '--unhandled-rejections=strict' },
    });
    for (let i = 0; i < 5; i++) {
      assert.equal((await app.get('/hello')).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: null, signal: 'SIGTERM' });
    const lines = ourLines(app.stderr());
    assert.equal(lines.length, 2, app.stderr());
    assert.match(
      lines[1] ?? '',
      new RegExp(
        `^cannot export spans to grpc http://127.0.0.1:${port}: .*ECONNREFUSED.*is the collector running, listening on port ${port}\\.`,
      ),
    );
    assert.equal(
      app
        .stdout()
        .split('\n')
        .filter((line) => line && !line.startsWith('listening')).length,
      0,
      'nothing on stdout',
    );
  });

  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    it(`says once when ${protocol} export fails, and once when it recovers with the number of spans dropped`, async () => {
      receiver.setFault('reject');
      after(() => receiver.setFault(undefined));
      const service = `recovers-${protocol}`;
      const app = startApp('server.cjs', { receiver, protocol, env: { OTEL_SERVICE_NAME: service } });
      await app.get('/hello');
      await app.waitForStderr(/cannot export spans/);
      await app.get('/hello');
      await new Promise((resolve) => setTimeout(resolve, 400));
      receiver.setFault(undefined);
      await app.get('/hello');
      await receiver.waitFor((spans) => spans.some((span) => span.resource['service.name'] === service));
      await app.waitForStderr(/again/);
      const lines = ourLines(app.stderr());
      assert.equal(lines.length, 3, app.stderr());
      assert.match(
        lines[1] ?? '',
        protocol === 'grpc'
          ? /^cannot export spans to .*rejected by the test; the collector rejected the spans/
          : /^cannot export spans to .*Bad Request \(rejected by the test\); the collector rejected the spans/,
      );
      assert.match(lines[2] ?? '', /^exporting to .* again; 6 spans were dropped meanwhile$/);
    });
  }
});
