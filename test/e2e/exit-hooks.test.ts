// The exit contract against the exit-hook libraries real services use, installed from npm (pinned in
// test/fixtures/exit-hooks/package.json): each app is run bare and under the preload, sent a request
// and then SIGTERM or SIGINT, and must end the same way (exit code or signal, the lines its cleanup
// prints, about as soon), with the request's spans (and the cleanup's own call) at the receiver.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type App, type Exit, fixtureDir, type Preload, ROOT, startApp, within } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';

type Signal = 'SIGTERM' | 'SIGINT';
const SIGNALS: readonly Signal[] = ['SIGTERM', 'SIGINT'];

/** How a process ends without the preload: 'alive' is an app that goes on after the signal. */
type Ending = 'by the signal' | 'exit 0' | 'exit 128+n' | 'alive';

interface Row {
  /** The app, in test/fixtures/exit-hooks. */
  readonly app: string;
  /** The library and its version as pinned in the fixture's package.json; none for the app's own code. */
  readonly library?: string;
  /** What happens on the signal, as read in the library's source. */
  readonly onSignal: string;
  readonly ends: Ending;
  /** The signals something listens to; the others find no listener and kill the process. Default: both. */
  readonly handles?: readonly Signal[];
  /** The cleanup makes an outgoing call of its own, a span made during the shutdown. */
  readonly cleanupCall?: boolean;
}

export const ROWS: readonly Row[] = [
  { app: 'none.cjs', onSignal: 'nothing listens: Node kills the process', ends: 'by the signal', handles: [] },
  {
    app: 'own-drain.cjs',
    onSignal: "the app's process.on: closes the server, one last call, the event loop drains",
    ends: 'exit 0',
    cleanupCall: true,
  },
  {
    app: 'before-exit.cjs',
    onSignal: "the app's process.on: closes the server, the event loop drains; its 'beforeExit' listener prints",
    ends: 'exit 0',
  },
  {
    app: 'own-exit.cjs',
    onSignal: "the app's process.on: closes the server, one last call, process.exit(0)",
    ends: 'exit 0',
    cleanupCall: true,
  },
  {
    app: 'own-once.cjs',
    onSignal: "the app's process.once: closes the server, one last call, raises the signal again",
    ends: 'by the signal',
    cleanupCall: true,
  },
  { app: 'ignore.cjs', onSignal: "the app's process.on logs the signal and goes on serving", ends: 'alive' },
  {
    app: 'signal-exit-3.cjs',
    library: 'signal-exit@3.0.7',
    onSignal: 'if its listeners are the last ones: removes them, runs the callbacks (sync), raises the signal again',
    ends: 'by the signal',
  },
  {
    app: 'signal-exit-4.cjs',
    library: 'signal-exit@4.1.0',
    onSignal: 'if its listeners (and v3’s) are the last ones: removes them, runs the callbacks (sync), raises the signal again',
    ends: 'by the signal',
  },
  {
    app: 'signal-exit-both.cjs',
    library: 'signal-exit@3.0.7 + signal-exit@4.1.0',
    onSignal: 'v4 goes first, counting v3’s listeners as its own, and raises the signal again; then v3, alone, does the same',
    ends: 'by the signal',
  },
  {
    app: 'signal-exit-gone.cjs',
    library: 'signal-exit@4.1.0',
    onSignal: 'onExit() and its remover called before the signal (as execa around a child): no listener left',
    ends: 'by the signal',
    handles: [],
  },
  {
    app: 'exit-hook.mjs',
    library: 'exit-hook@5.1.0',
    onSignal: 'runs the hooks, awaits the async ones (at most `wait`), flushes stdio, process.exit(128 + n)',
    ends: 'exit 128+n',
    cleanupCall: true,
  },
  { app: 'exit-hook-4.mjs', library: 'exit-hook@4.0.0', onSignal: 'runs the hooks (sync here), process.exit(128 + n)', ends: 'exit 128+n' },
  {
    app: 'async-exit-hook.cjs',
    library: 'async-exit-hook@2.0.1',
    onSignal: 'runs the hooks, awaits those taking a callback (at most 10 s), process.exit(128 + n)',
    ends: 'exit 128+n',
    cleanupCall: true,
  },
  {
    app: 'terminus.cjs',
    library: '@godaddy/terminus@4.12.1',
    onSignal: 'SIGTERM only (by default): stops the server, awaits onSignal, removes its listeners, raises the signal again',
    ends: 'by the signal',
    handles: ['SIGTERM'],
    cleanupCall: true,
  },
  {
    app: 'close-with-grace.cjs',
    library: 'close-with-grace@2.5.0',
    onSignal: 'swaps its listeners for second-signal ones, awaits the function (at most `delay`), process.exit(0)',
    ends: 'exit 0',
    cleanupCall: true,
  },
  {
    app: 'http-graceful-shutdown.cjs',
    library: 'http-graceful-shutdown@4.0.0',
    onSignal: 'closes the server and its idle connections, awaits onShutdown, process.exit(0)',
    ends: 'exit 0',
    cleanupCall: true,
  },
  {
    app: 'node-cleanup.cjs',
    library: 'node-cleanup@2.1.2',
    onSignal: 'runs the handlers (sync), removes its listeners, raises the signal again',
    ends: 'by the signal',
  },
];

const fixture = useFixture();
const SERVER = 2;
// The batch delay is far longer than any test waits, so only the flush at exit can deliver the spans.
const SLOW_BATCHES = { OTEL_BSP_SCHEDULE_DELAY: '600000' };
/** Longer than any ending here takes; an app still running then is one the preload keeps alive. */
const EXIT_WITHIN = 10_000;
/** How much longer than bare the ending may take under the preload: the flush on a loaded machine, but
 * less than the 5 s default of OTEL_SHUTDOWN_TIMEOUT_MS, so that waiting it out fails. */
const FLUSH_SLACK = 4000;

/** How an app is run: bare, or under the preload with or without metrics (whose last export changes the way out). */
interface Variant {
  readonly preload: Preload;
  readonly metrics: boolean;
}
const BARE: Variant = { preload: 'none', metrics: false };
// Each run is a Node start, and CI runs this file on small machines: the loader, which does not change
// the way out, varies along with the metrics rather than on its own. ES modules are preloaded by --import only.
const variantsOf = (row: Row): Variant[] => [
  { preload: 'import', metrics: false },
  { preload: row.app.endsWith('.mjs') ? 'import' : 'require', metrics: true },
];
const label = ({ preload, metrics }: Variant) => (preload === 'none' ? 'bare' : `--${preload}${metrics ? ' with metrics' : ''}`);
const stem = (row: Row) => row.app.replace(/\.\w+$/, '');
const handles = (row: Row, signal: Signal) => (row.handles ?? SIGNALS).includes(signal);

function expectedExit(ending: Ending, signal: Signal): Exit {
  if (ending === 'by the signal') return { code: null, signal };
  if (ending === 'exit 0') return { code: 0, signal: null };
  if (ending === 'exit 128+n') return { code: 128 + constants.signals[signal], signal: null };
  return { code: null, signal: 'SIGKILL' };
}

/** What an app printed, but for the port it listens on and the preload's own lines. */
const printed = (app: App) => ({
  stdout: app
    .stdout()
    .split('\n')
    .filter((line) => line !== '' && !/^listening \d+$/.test(line)),
  stderr: app
    .stderr()
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('@rustok/otel: ')),
});

interface Run {
  readonly exit: Exit;
  readonly printed: ReturnType<typeof printed>;
  /** From the signal to the end. */
  readonly millis: number;
  readonly service: string;
}

/** Starts the app, makes one request, sends the signal and waits for the end (or, for an app that survives, kills it). */
async function run(row: Row, signal: Signal, variant: Variant): Promise<Run> {
  const service = `exit-hooks-${stem(row)}-${signal}-${variant.preload}${variant.metrics ? '-metrics' : ''}`;
  const app = startApp(row.app, {
    preload: variant.preload,
    cwd: fixtureDir('exit-hooks'),
    receiver: fixture.receiver,
    env: {
      ...SLOW_BATCHES,
      OTEL_SERVICE_NAME: service,
      OTEL_METRICS_EXPORTER: variant.metrics ? undefined : 'none',
      TARGET_URL: fixture.target.url,
    },
  });
  const where = () => `${row.app} ${label(variant)}, ${signal}\nstdout: ${app.stdout()}\nstderr: ${app.stderr()}`;
  assert.equal((await app.get('/work')).status, 200, where());
  const sent = Date.now();
  process.kill(app.pid, signal);
  if (row.ends === 'alive') {
    // Its handler ran and it still answers; then it is killed.
    await within(app.waitForStdout(new RegExp(`ignored ${signal}`)), EXIT_WITHIN, where);
    assert.equal((await app.get('/work')).status, 200, where());
    process.kill(app.pid, 'SIGKILL');
  }
  const exit = await within(app.exited, EXIT_WITHIN, () => `still running after ${signal}: ${where()}`);
  return { exit, printed: printed(app), millis: Date.now() - sent, service };
}

/** The spans a traced run delivers: the request's two, and the one of the cleanup's own call when it ran. */
const expectedSpans = (row: Row, signal: Signal) => [
  'server /work',
  'client /work',
  ...(row.cleanupCall && handles(row, signal) ? [`client /cleanup/${stem(row)}`] : []),
];

const spansOf = (service: string) =>
  fixture.receiver.spans
    .filter((span) => span.resource['service.name'] === service)
    .map((span) =>
      span.kind === SERVER ? `server ${span.attributes['url.path']}` : `client ${new URL(String(span.attributes['url.full'])).pathname}`,
    );

/** Runs the app bare and in every variant at once, and compares each traced ending with the bare one. */
async function sameEnding(row: Row, signal: Signal): Promise<void> {
  const variants = variantsOf(row);
  const [bare, ...traced] = await Promise.all([BARE, ...variants].map((variant) => run(row, signal, variant)));
  assert.ok(bare);
  // The bare ending is the one the table says, and a handled signal ran the cleanup: the comparison is not of two failures.
  assert.deepEqual(bare.exit, expectedExit(handles(row, signal) ? row.ends : 'by the signal', signal), `${row.app} bare, ${signal}`);
  assert.equal(bare.printed.stdout.length > 0, handles(row, signal), `${row.app} bare, ${signal}: printed ${bare.printed.stdout}`);
  for (const [index, run] of traced.entries()) {
    const variant = variants[index]!;
    const which = `${row.app} ${label(variant)} vs bare, ${signal}`;
    assert.deepEqual(run.exit, bare.exit, which);
    assert.deepEqual(run.printed, bare.printed, which);
    assert.ok(run.millis < bare.millis + FLUSH_SLACK, `${which}: ended ${run.millis} ms after the signal, bare in ${bare.millis} ms`);
    if (row.ends === 'alive') continue;
    const expected = expectedSpans(row, signal);
    await fixture.receiver
      .waitFor(() => expected.every((span) => spansOf(run.service).includes(span)), 5000)
      .catch(() => assert.fail(`${which}: expected the spans ${expected.join(', ')}; got ${spansOf(run.service).join(', ') || 'none'}`));
  }
}

describe('exit hooks: each app ends under the preload as it does bare, on SIGTERM and on SIGINT', () => {
  it('covers every library pinned in the fixture, at its pinned version', () => {
    const { dependencies } = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/exit-hooks/package.json'), 'utf8'));
    const pinned = Object.entries<string>(dependencies).map(([name, spec]) =>
      spec.startsWith('npm:') ? spec.slice('npm:'.length) : `${name}@${spec}`,
    );
    const tested = new Set(ROWS.flatMap((row) => row.library?.split(' + ') ?? []));
    assert.deepEqual([...tested].sort(), pinned.sort());
  });

  for (const row of ROWS) {
    it(`${row.app}${row.library ? ` (${row.library})` : ''}: ${row.onSignal}`, async () => {
      await Promise.all(SIGNALS.map((signal) => sameEnding(row, signal)));
    });
  }
});
