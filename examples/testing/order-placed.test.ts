// Contract test of an event flow: the producer and the consumer, each in a process of its own under
// the preload, joined by the envelope alone. The consumer's span must continue the producer's trace,
// with the messaging attributes both sides agree on. Run with `node --import tsx --test order-placed.test.ts`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestReceiver, type TestReceiver } from '@rustok/otel/testing';

// In a describe, as in checkout.test.ts: Node 20.6 runs a file's top-level `after` only once nothing
// else keeps the process alive.
describe('the order.placed event', () => {
  let receiver: TestReceiver;
  before(async () => {
    receiver = await startTestReceiver();
  });
  after(() => receiver.close());

  /** Starts a script of this folder under the preload, as the service `name`. */
  function start(script: string, name: string) {
    return spawn(
      process.execPath,
      ['--import', 'tsx', '--import', '@rustok/otel/register', fileURLToPath(new URL(script, import.meta.url))],
      {
        env: receiver.env({ OTEL_SERVICE_NAME: name }),
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
  }

  it('continues the trace of the order service in the billing service, through the envelope', async () => {
    const publisher = start('./publisher.ts', 'orders');
    const subscriber = start('./subscriber.ts', 'billing');
    // What the one writes, the other reads: a broker in miniature.
    publisher.stdout.pipe(subscriber.stdin);
    assert.deepEqual(await Promise.all([once(publisher, 'exit'), once(subscriber, 'exit')]), [
      [0, null],
      [0, null],
    ]);

    const [published] = await receiver.spans({
      service: 'orders',
      kind: 'producer',
      name: 'publish order.placed',
      attributes: { 'messaging.destination.name': 'order.placed', 'messaging.message.id': 'evt-1' },
    });
    const [processed] = await receiver.spans({
      service: 'billing',
      kind: 'consumer',
      name: 'process order.placed',
      traceId: published?.traceId,
      parentSpanId: published?.spanId,
      attributes: { 'messaging.destination.name': 'order.placed', 'messaging.message.id': 'evt-1' },
    });
    await receiver.spans({ service: 'billing', name: 'charge card', parentSpanId: processed?.spanId });
  });
});
