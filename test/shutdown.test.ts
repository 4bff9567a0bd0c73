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
// The batch delay is far longer than the test waits, so only a flush at exit can deliver the spans.
const SLOW_BATCHES = { OTEL_BSP_SCHEDULE_DELAY: '60000' };

describe('at exit', () => {
  it('delivers the spans of a script whose event loop drains, and exits 0', async () => {
    const app = startApp('script.cjs', { receiver, env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: 'drained', TARGET_URL: target.url } });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    await receiver.waitFor(() => ofService('drained').length === 3, 2000);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`flushes on ${signal} and dies by ${signal} when the app has no handler`, async () => {
      const service = `no-handler-${signal}`;
      const app = startApp('server.cjs', { receiver, env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: service } });
      await app.get('/hello');
      process.kill(app.pid, signal);
      assert.deepEqual(await app.exited, { code: null, signal });
      await receiver.waitFor(() => ofService(service).length === 3, 2000);
    });
  }

  it('lets an app with its own SIGTERM handler finish its shutdown, and delivers the spans it made meanwhile', async () => {
    const app = startApp('server.cjs', {
      receiver,
      env: { ...SLOW_BATCHES, OTEL_SERVICE_NAME: 'graceful', GRACEFUL: '1', TARGET_URL: target.url },
    });
    await app.get('/hello');
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.match(app.stdout(), /graceful shutdown done/);
    await receiver.waitFor(() => ofService('graceful').some((span) => String(span.attributes['url.full']).endsWith('/goodbye')), 2000);
    assert.equal(ofService('graceful').length, 4);
  });
});
