// Integration test: the service runs as in production, in a process of its own under the preload,
// sending to a receiver on a free port; the test calls it and asserts the trace a request leaves and
// the RED metric that counts it. Run with `node --import tsx --test http-express.test.ts`.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestReceiver, type TestReceiver } from '@rustok/otel/testing';

// In a describe, as in checkout.test.ts: Node 20.6 runs a file's top-level `after` only once nothing
// else keeps the process alive.
describe('the products service', () => {
  let receiver: TestReceiver;
  let service: ChildProcess;
  let baseUrl = '';

  before(async () => {
    receiver = await startTestReceiver();
    const script = fileURLToPath(new URL('../http-express.ts', import.meta.url));
    service = spawn(process.execPath, ['--import', 'tsx', '--import', '@rustok/otel/register', script], {
      env: receiver.env({ OTEL_SERVICE_NAME: 'products' }),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // It prints `listening <port>` once it serves.
    for await (const line of createInterface({ input: service.stdout! })) {
      const port = line.match(/^listening (\d+)$/)?.[1];
      if (port) {
        baseUrl = `http://127.0.0.1:${port}`;
        break;
      }
    }
    assert.ok(baseUrl, 'the service started');
  });
  afterEach(() => receiver.reset());
  after(async () => {
    if (service.exitCode === null && service.signalCode === null) {
      service.kill();
      await once(service, 'exit');
    }
    await receiver.close();
  });

  it('traces GET /products/:id as a server span over the handler and its own step, and counts it', async () => {
    assert.equal((await fetch(`${baseUrl}/products/7`)).status, 200);

    const [server] = await receiver.spans({
      name: 'GET /products/:id',
      kind: 'server',
      attributes: { 'http.route': '/products/:id', 'http.response.status_code': 200 },
    });
    const [handler] = await receiver.spans({ parentSpanId: server?.spanId, attributes: { 'product.id': '7' } });
    await receiver.spans({ name: 'load product', parentSpanId: handler?.spanId });

    const [point] = await receiver.metrics({
      name: 'http.server.request.duration',
      attributes: { 'http.route': '/products/:id', 'http.response.status_code': 200 },
    });
    assert.equal(point?.count, 1);
  });

  it('marks a failing request as an error, in its span and in the metric', async () => {
    assert.equal((await fetch(`${baseUrl}/fail`)).status, 500);

    await receiver.spans({ name: 'GET /fail', kind: 'server', status: 'error' });
    await receiver.metrics({
      name: 'http.server.request.duration',
      attributes: { 'http.route': '/fail', 'http.response.status_code': 500, 'error.type': '500' },
    });
  });
});
