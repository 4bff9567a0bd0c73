// The exit and outage contract, measured: for each way a process ends, how many of the spans it ended
// arrive at a local receiver, how it exits, and how long from the trigger to the exit. Runs the fixture
// apps that `npm test` installs (test/helpers/app.ts, APP_DIR): `npm run bench:exit` prepares them.

import { type Fault, startReceiver } from '../src/receiver/otlp-receiver.js';
import { type App, type AppOptions, startApp, stopApps } from '../test/helpers/app.js';
import { closedPort, startTarget } from '../test/helpers/target.js';

const receiver = await startReceiver();
const target = await startTarget();
const runs = Number(process.env.RUNS ?? 3);
const slow = { OTEL_BSP_SCHEDULE_DELAY: '600000' };

interface Scenario {
  readonly name: string;
  readonly script: string;
  readonly expected: number;
  readonly env?: Record<string, string>;
  readonly fault?: Fault;
  readonly collectorDown?: boolean;
  /** What the app is made to do once it runs; resolves with the moment the exit was triggered. */
  readonly trigger?: (app: App) => Promise<number>;
}

const signal = (name: NodeJS.Signals) => async (app: App) => {
  await app.get('/hello');
  process.kill(app.pid, name);
  return performance.now();
};
const crash = (path: string) => async (app: App) => {
  const at = performance.now();
  await app.get(path).catch(() => {});
  return at;
};

const scenarios: Scenario[] = [
  { name: 'event loop drains (script, 3 calls)', script: 'script.cjs', expected: 3 },
  { name: 'SIGTERM, no handler', script: 'server.cjs', expected: 3, trigger: signal('SIGTERM') },
  { name: 'SIGINT, no handler', script: 'server.cjs', expected: 3, trigger: signal('SIGINT') },
  {
    name: 'SIGTERM, own handler ending in process.exit(0)',
    script: 'server.cjs',
    expected: 4,
    env: { GRACEFUL: 'exit' },
    trigger: signal('SIGTERM'),
  },
  { name: 'process.exit(3) after the last call', script: 'exit.cjs', expected: 3, env: { EXIT_CODE: '3' } },
  { name: 'uncaught exception in a request handler', script: 'crash.cjs', expected: 1, trigger: crash('/throw') },
  { name: 'unhandled rejection in a request handler', script: 'crash.cjs', expected: 1, trigger: crash('/reject') },
  { name: 'collector down (refused), script', script: 'script.cjs', expected: 3, collectorDown: true },
  {
    name: 'collector never answers, process.exit(3), 1 s bound',
    script: 'exit.cjs',
    expected: 3,
    fault: 'hang',
    env: { EXIT_CODE: '3', OTEL_SHUTDOWN_TIMEOUT_MS: '1000' },
  },
  {
    name: 'collector never answers, SIGTERM, spans and metrics, 1 s bound',
    script: 'server.cjs',
    expected: 3,
    fault: 'hang',
    env: { OTEL_SHUTDOWN_TIMEOUT_MS: '1000' },
    trigger: signal('SIGTERM'),
  },
];

console.log(
  `Node ${process.versions.node}, ${runs} runs each; time is from the signal or the crashing request (or the start, for scripts) to the exit\n`,
);
console.log('| path | spans delivered / expected | exit | time to exit (median) |\n| --- | --- | --- | --- |');
for (const scenario of scenarios) {
  const delivered: number[] = [];
  const exits = new Set<string>();
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const service = `${scenario.name}#${run}`;
    receiver.setFault(scenario.fault);
    const endpoint = scenario.collectorDown ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}` } : {};
    const options: AppOptions = {
      receiver,
      env: { ...slow, OTEL_SERVICE_NAME: service, TARGET_URL: target.url, ...scenario.env, ...endpoint },
    };
    let started = performance.now();
    const app = startApp(scenario.script, options);
    if (scenario.trigger) {
      await app.listening;
      started = await scenario.trigger(app);
    }
    const exit = await app.exited;
    times.push(performance.now() - started);
    exits.add(exit.signal ?? `code ${exit.code}`);
    receiver.setFault(undefined);
    // What the app delivered is in by now: its exit waited for the collector's answer, which comes after the spans are stored.
    delivered.push(receiver.spans.filter((span) => span.resource['service.name'] === service).length);
  }
  const median = [...times].sort((a, b) => a - b)[times.length >> 1] ?? 0;
  const total = delivered.reduce((sum, count) => sum + count, 0);
  const down = scenario.collectorDown || scenario.fault ? ' (none can arrive)' : '';
  console.log(`| ${scenario.name} | ${total} / ${scenario.expected * runs}${down} | ${[...exits].join(', ')} | ${median.toFixed(0)} ms |`);
}
stopApps();
await Promise.all([receiver.close(), target.close()]);
