// Unit test of code traced with `traced()`: this test process runs under the preload itself, so its
// spans are the ones production sends. The preload reads its endpoint when the process starts, before
// any test, so the receiver listens on the port the command names, and one file runs per process:
//
//   OTEL_ENABLED=true OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4327 OTEL_BSP_SCHEDULE_DELAY=50 OTEL_METRICS_EXPORTER=none \
//     node --import tsx --import @rustok/otel/register checkout.test.ts
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { startTestReceiver, type TestReceiver } from '@rustok/otel/testing';
import { placeOrder } from './checkout.js';

// In a describe: Node 20.6 runs a file's top-level `after` only once nothing else keeps the process
// alive, and the receiver does until it is closed.
describe('placeOrder', () => {
  let receiver: TestReceiver;
  before(async () => {
    const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    assert.ok(endpoint, 'run under the preload, with the endpoint the receiver listens on: see the command above');
    receiver = await startTestReceiver({ port: Number(new URL(endpoint).port) });
  });
  afterEach(() => receiver.reset());
  after(() => receiver.close());

  it('records the order on the span of placeOrder', async () => {
    const order = await placeOrder('c-42', 3);
    await receiver.spans({
      name: 'checkout.place_order',
      status: 'unset',
      attributes: { 'customer.id': 'c-42', 'order.items': 3, 'order.id': order.id, 'order.total_cents': 3750 },
    });
  });

  it('records a refused order as an error and passes the error on', async () => {
    await assert.rejects(placeOrder('c-42', 0), RangeError);
    const [span] = await receiver.spans({ name: 'checkout.place_order', status: 'error', attributes: { 'order.items': 0 } });
    assert.equal(span?.status.message, 'an order needs at least one item');
    assert.equal(span?.events[0]?.attributes['exception.type'], 'RangeError');
  });
});
