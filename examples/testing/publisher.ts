// The producer side of examples/testing/order-placed.test.ts: places an order and publishes
// `order.placed`, one JSON line on stdout standing for the broker, its `headers` carrying the trace.
import { traced, tracePublish } from '@rustok/otel';

await traced('OrderService.place', async () => {
  const envelope = { id: 'evt-1', type: 'order.placed', payload: { orderId: 'o-1', totalCents: 4200 } };
  tracePublish(envelope, () => process.stdout.write(`${JSON.stringify(envelope)}\n`));
});
