// The demo service: an ordinary Express app with no tracing setup of its own, logging with pino. The
// preload traces it and sends its log records, each in the trace of the request that wrote it.
import { setAttributes, traced } from '@rustok/otel';
import express from 'express';
import pino from 'pino';

const log = pino();
const app = express();
let port = 0;

app.get('/orders/:id', async (request, response) => {
  const order = await traced('orders.load', async () => {
    setAttributes({ 'order.id': request.params.id });
    log.info({ order: request.params.id }, 'loading the order');
    const stock = await fetch(`http://127.0.0.1:${port}/inventory/sku-${request.params.id}`);
    const { available } = (await stock.json()) as { available: boolean };
    return { id: request.params.id, inStock: available };
  });
  response.json(order);
});

app.get('/inventory/:sku', (_request, response) => {
  response.json({ available: true });
});

app.get('/checkout', () => {
  throw new Error('payment provider unavailable');
});

app.use((error: Error, _request: express.Request, response: express.Response, _next: express.NextFunction) => {
  log.error({ err: error }, 'checkout failed');
  response.status(500).json({ error: error.message });
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  console.log(`listening ${port}`);
});
