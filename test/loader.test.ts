import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { startApp, stopApps } from './helpers/app.js';
import { type Receiver, startReceiver } from './helpers/receiver.js';
import { startTarget, type Target } from './helpers/target.js';

let receiver: Receiver;
let target: Target;
before(async () => {
  receiver = await startReceiver();
  target = await startTarget();
});
after(() => Promise.all([receiver.close(), target.close()]));
afterEach(stopApps);

const ofService = (name: string) => receiver.spans.filter((span) => span.resource['service.name'] === name);

describe('ES module apps', () => {
  for (const preload of ['import', 'require'] as const) {
    it(`get Express route spans in an ES module app preloaded with ${preload}`, async () => {
      const service = `esm-express-${preload}`;
      const app = startApp('express.mjs', { receiver, preload, env: { OTEL_SERVICE_NAME: service } });
      assert.deepEqual(JSON.parse((await app.get('/users/7')).body), { id: '7' });
      await receiver.waitFor(() => ofService(service).some((span) => span.name === 'users.load'));
      await receiver.waitFor(() => ofService(service).some((span) => span.attributes['express.type'] === 'request_handler'));
      const spans = ofService(service);
      const server = spans.find((span) => span.kind === 2);
      assert.equal(server?.attributes['http.route'], '/users/:id');
      const handler = spans.find((span) => span.attributes['express.type'] === 'request_handler');
      assert.equal(handler?.attributes['express.name'], '/users/:id');
      assert.ok(spans.every((span) => span.traceId === server?.traceId));
      assert.match(app.stderr(), /^@rustok\/otel: tracing [^\n]+\n$/, 'one start-up line and nothing else on stderr');
    });
  }

  it('traces named imports from node:http in a short ES module script', async () => {
    const app = startApp('script.mjs', { receiver, env: { OTEL_SERVICE_NAME: 'esm-script', TARGET_URL: target.url } });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.match(app.stdout(), /script done/);
    await receiver.waitFor(() => ofService('esm-script').length >= 3);
    const paths = ofService('esm-script').map((span) => new URL(String(span.attributes['url.full'])).pathname);
    assert.deepEqual(paths.sort(), ['/call/1', '/call/2', '/call/3']);
    const calls = target.requests.filter((request) => request.path.startsWith('/call/'));
    assert.ok(calls.every((request) => typeof request.headers.traceparent === 'string'));
  });
});
