// HTTP handlers with Express: the http and express instrumentations name the server span after the
// route (`GET /products/:id`); the handler adds what only it knows and traces its own steps.
import { setAttributes, traced } from '@rustok/otel';
import express from 'express';

const app = express();

app.get('/products/:id', async (request, response) => {
  setAttributes({ 'product.id': request.params.id });
  const product = await traced('load product', async () => ({ id: request.params.id, name: 'lamp' }));
  response.json(product);
});

app.get('/fail', () => {
  throw new Error('the handler failed');
});

// An outgoing call: a CLIENT span, and the other end's SERVER span in the same trace.
app.get('/recommendations', async (_request, response) => {
  const { port } = server.address() as { port: number };
  const product = await fetch(`http://127.0.0.1:${port}/products/1`).then((answer) => answer.json());
  response.json([product]);
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : address}`);
});
process.once('SIGTERM', () => server.close());
