// The consumer side: another service, handling each envelope it reads on stdin in a span that
// continues the producer's trace.
import { createInterface } from 'node:readline';
import { traced, traceHandler } from '@rustok/otel';

interface OrderPlaced {
  id: string;
  type: 'order.placed';
  headers?: Record<string, string>;
  payload: { orderId: string; totalCents: number };
}

const handle = traceHandler(async (envelope: OrderPlaced) => {
  await traced('charge card', async () => console.log(`charged ${envelope.payload.totalCents} for ${envelope.payload.orderId}`));
});

for await (const line of createInterface({ input: process.stdin })) await handle(JSON.parse(line));
