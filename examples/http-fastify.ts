// HTTP handlers with Fastify: the http instrumentation traces every request, but no instrumentation
// in the official set knows Fastify's routes. One hook names the server span after the route.
import { trace } from '@opentelemetry/api';
import { traced } from '@rustok/otel';
import Fastify from 'fastify';

const app = Fastify();

app.addHook('onRequest', async (request) => {
  const route = request.routeOptions.url;
  if (route) trace.getActiveSpan()?.updateName(`${request.method} ${route}`).setAttribute('http.route', route);
});

app.get<{ Params: { id: string } }>('/products/:id', async (request) =>
  traced('load product', async () => ({ id: request.params.id, name: 'lamp' }), { 'product.id': request.params.id }),
);

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`listening ${new URL(address).port}`);
process.once('SIGTERM', () => void app.close());
