// `npm run demo`: starts `rustok-otel dev` (the package's local receiver, which prints each trace as
// a waterfall), runs the demo service under the register preload pointed at it, and sends the service
// a few requests. No Docker, no collector.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url));
const dev = spawn(process.execPath, [cli, 'dev', '--grpc-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const stop = (child: ReturnType<typeof spawn>) => child.exitCode === null && child.kill('SIGTERM');
process.on('exit', () => stop(dev));

const endpoint = await new Promise<string>((resolve, reject) => {
  let banner = '';
  dev.stdout.setEncoding('utf8').on('data', function read(chunk: string) {
    banner += chunk;
    const match = banner.match(/OTLP gRPC on (\S+),/);
    if (!match?.[1]) return;
    dev.stdout.off('data', read);
    process.stdout.write(banner);
    dev.stdout.pipe(process.stdout);
    resolve(match[1]);
  });
  dev.once('exit', () => reject(new Error('rustok-otel dev exited before listening')));
});

const service = spawn(
  process.execPath,
  ['--import', 'tsx', '--import', '@rustok/otel/register', fileURLToPath(new URL('service.ts', import.meta.url))],
  {
    env: {
      ...process.env,
      OTEL_ENABLED: 'true',
      OTEL_SERVICE_NAME: 'demo-orders',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      NODE_OPTIONS: '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
process.on('exit', () => stop(service));

const port = await new Promise<number>((resolve, reject) => {
  service.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const match = chunk.match(/listening (\d+)/);
    if (match) resolve(Number(match[1]));
  });
  service.once('exit', () => reject(new Error('the demo service exited before listening')));
});
for (const path of ['/orders/1', '/orders/2', '/checkout']) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  console.log(`GET ${path} -> ${response.status}`);
}
console.log('');
// SIGTERM: the preload flushes what is left and the service ends as it would have, once the receiver
// has stored it (it answers an export after that); then the receiver prints what it still holds and ends too.
stop(service);
await once(service, 'exit');
stop(dev);
await once(dev, 'exit');
