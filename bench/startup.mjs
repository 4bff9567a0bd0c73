// Start-up cost, spawn to first HTTP response, of the fixture apps under each preload. Variants run
// alternated (A/B/C/D, A/B/C/D, ...) so that machine drift spreads evenly; medians are reported.
// Uses the apps `npm test` installs under .work/app: `npm run bench:startup` prepares them.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const appDir = fileURLToPath(new URL('../.work/app/', import.meta.url));
const runs = Number(process.env.RUNS ?? 9);
const variants = {
  'bare node': { preload: [], env: {} },
  '@rustok/otel, OTEL_ENABLED unset': { preload: ['--import', '@rustok/otel/register'], env: {} },
  '@rustok/otel, tracing on': { preload: ['--import', '@rustok/otel/register'], env: { OTEL_ENABLED: 'true' } },
  'official register': { preload: ['--require', '@opentelemetry/auto-instrumentations-node/register'], env: {} },
};

async function startupMillis(app, path, { preload, env }) {
  const started = performance.now();
  const child = spawn(process.execPath, [...preload, app], {
    cwd: appDir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const port = await new Promise((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk) => {
        const match = chunk.match(/listening (\d+)/);
        if (match) resolve(match[1]);
      });
      child.on('exit', () => reject(new Error(`${app} exited before listening`)));
    });
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    await response.text();
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
for (const [app, path] of [
  ['server.cjs', '/'],
  ['express.mjs', '/users/1'],
]) {
  const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let run = 0; run < runs; run++) {
    for (const [name, variant] of Object.entries(variants)) results[name].push(await startupMillis(app, path, variant));
  }
  const bare = median(results['bare node']);
  console.log(`\n${app} on Node ${process.versions.node}, spawn to first response, ${runs} runs each`);
  console.log('| variant | median | min–max | over bare |\n| --- | --- | --- | --- |');
  for (const [name, values] of Object.entries(results)) {
    const m = median(values);
    const over = name === 'bare node' ? '' : `+${(m - bare).toFixed(0)} ms`;
    console.log(`| ${name} | ${m.toFixed(0)} ms | ${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} ms | ${over} |`);
  }
}
