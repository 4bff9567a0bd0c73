import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from './helpers/app.js';
import { useFixture } from './helpers/fixture.js';

const fixture = useFixture();

const ofService = (name: string) => fixture.receiver.spans.filter((span) => span.resource['service.name'] === name);

describe('ES module apps', () => {
  for (const preload of ['import', 'require'] as const) {
    it(`get Express route spans in an ES module app preloaded with ${preload}`, async () => {
      const service = `esm-express-${preload}`;
      const app = startApp('express.mjs', { receiver: fixture.receiver, preload, env: { OTEL_SERVICE_NAME: service } });
      assert.deepEqual(JSON.parse((await app.get('/users/7')).body), { id: '7' });
      await fixture.receiver.waitFor(() => ofService(service).some((span) => span.name === 'users.load'));
      await fixture.receiver.waitFor(() => ofService(service).some((span) => span.attributes['express.type'] === 'request_handler'));
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
    const app = startApp('script.mjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: 'esm-script', TARGET_URL: fixture.target.url },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.match(app.stdout(), /script done/);
    await fixture.receiver.waitFor(() => ofService('esm-script').length >= 3);
    const paths = ofService('esm-script').map((span) => new URL(String(span.attributes['url.full'])).pathname);
    assert.deepEqual(paths.sort(), ['/call/1', '/call/2', '/call/3']);
    const calls = fixture.target.requests.filter((request) => request.path.startsWith('/call/'));
    assert.ok(calls.every((request) => typeof request.headers.traceparent === 'string'));
  });
});
