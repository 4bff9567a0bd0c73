// `npm run demo`: starts a local OTLP receiver, runs the demo service under the register preload,
// sends it a few requests and prints each trace it exported. No Docker, no collector.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type ReceivedSpan, startReceiver } from '../../test/helpers/receiver.js';
import { renderTrace } from './tree.js';

const receiver = await startReceiver();
const service = spawn(
  process.execPath,
  ['--import', 'tsx', '--import', '@rustok/otel/register', fileURLToPath(new URL('service.ts', import.meta.url))],
  {
    env: {
      ...process.env,
      OTEL_ENABLED: 'true',
      OTEL_SERVICE_NAME: 'demo-orders',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.grpcUrl,
      NODE_OPTIONS: '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const stopService = () => service.exitCode === null && service.kill('SIGTERM');
process.on('exit', stopService);

try {
  const port = await new Promise<number>((resolve, reject) => {
    service.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const match = chunk.match(/listening (\d+)/);
      if (match) resolve(Number(match[1]));
    });
    service.once('exit', () => reject(new Error('the demo service exited before listening')));
  });
  const paths = ['/orders/1', '/orders/2', '/checkout'];
  for (const path of paths) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    console.log(`GET ${path} -> ${response.status}`);
  }
  // SIGTERM: the preload flushes what is left, then the service ends as it would have.
  stopService();
  await once(service, 'exit');
  const roots = (spans: typeof receiver.spans) => spans.filter((span) => span.kind === 2 && span.parentSpanId === '');
  await receiver.waitFor((spans) => roots(spans).length >= paths.length, 10_000);
  const traces = new Map<string, ReceivedSpan[]>();
  for (const span of receiver.spans) traces.set(span.traceId, [...(traces.get(span.traceId) ?? []), span]);
  console.log(`\nThe receiver got ${receiver.spans.length} spans in ${traces.size} traces:\n`);
  const started = (spans: ReceivedSpan[]) =>
    spans.reduce((min, span) => (span.startNanos < min ? span.startNanos : min), spans[0]?.startNanos ?? 0n);
  const inOrder = [...traces.values()].sort((a, b) => Number(started(a) - started(b)));
  for (const spans of inOrder) console.log(`${renderTrace(spans)}\n`);
} finally {
  stopService();
  await receiver.close();
}
