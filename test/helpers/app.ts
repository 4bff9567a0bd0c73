// Starts a fixture app the way a user would (preloading the installed package by its public name)
// and stops every app it started by PID when the test ends, pass or fail. Every wait on an app (a
// line, its port, an answer, its end) fails within a bound, saying what it waited for.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Receiver } from './receiver.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
// Outside the repository: Node resolves packages up the directory tree, and an app inside the
// checkout would find the repository's own devDependencies as if they were its own.
export const WORK_DIR = join(tmpdir(), `rustok-otel-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}`);
export const APP_DIR = join(WORK_DIR, 'app');
export const EXAMPLES_DIR = join(WORK_DIR, 'examples');
/** Where test/fixtures/<name> (a folder with a package.json of its own) is installed. */
export const fixtureDir = (name: string) => join(WORK_DIR, name);

/** The Node.js binary the apps run on: FIXTURE_NODE lets CI run them on the engines floor (20.6.0). */
export const FIXTURE_NODE = process.env.FIXTURE_NODE ?? 'node';

/**
 * How long a wait on an app may take unless the caller says otherwise: many times what any of them
 * takes, yet far below the 180 s --test-timeout, which would end a hung test without saying on what.
 */
export const WAIT_MS = 20_000;

export type Preload = 'import' | 'require' | 'node-options' | 'none';

export interface AppOptions {
  readonly preload?: Preload;
  readonly receiver?: Receiver;
  readonly protocol?: 'grpc' | 'http/protobuf';
  /** Added to the environment; undefined removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The app's directory, where it starts. Default: the fixture app. */
  readonly cwd?: string;
  /** Node's own options, before the preload and the script. */
  readonly nodeArgs?: readonly string[];
  /** The script's own arguments, after it. */
  readonly args?: readonly string[];
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface App {
  readonly pid: number;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** How the app ended; rejects if it has not within WAIT_MS of this read. */
  readonly exited: Promise<Exit>;
  exitedWithin(timeoutMs: number): Promise<Exit>;
  /** Resolves with the port the app printed as `listening <port>`; rejects if it has not within WAIT_MS of its start. */
  readonly listening: Promise<number>;
  /** Rejects when the app ends without printing it, or has not printed it within `timeoutMs`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Rejects if the app has not answered within WAIT_MS. */
  get(path: string, headers?: Readonly<Record<string, string>>): Promise<{ status: number; body: string }>;
}

const running = new Set<ChildProcess>();
/** Those started in a process group of their own (startCommand): stopped with every process in it. */
const groups = new WeakSet<ChildProcess>();
// A test process that ends without its afterEach (an uncaught error, a file without useFixture) must not leave apps behind.
process.on('exit', () => stopApps());

export function startApp(script: string, options: AppOptions = {}): App {
  const { preload = 'import', nodeArgs = [], args: scriptArgs = [] } = options;
  const args = [...nodeArgs, ...(preload === 'import' || preload === 'require' ? [registerFlag(preload)] : []), script, ...scriptArgs];
  return launch(FIXTURE_NODE, args, appEnv(preload, options), { cwd: options.cwd ?? APP_DIR });
}

export interface CommandOptions extends Omit<AppOptions, 'preload' | 'nodeArgs' | 'args'> {
  /** How the preload reaches the command's Node processes: NODE_OPTIONS (the default), or not at all. */
  readonly preload?: 'node-options' | 'none';
  /** What the app prints on stdout once it serves, its first group the port. Default: `listening <port>`. */
  readonly listeningOn?: RegExp;
}

/**
 * Runs a command the way a user types it (`npm start`, `npx serve`, a framework's bin), with
 * FIXTURE_NODE first on PATH so that its `#!/usr/bin/env node` and the scripts it starts run on that
 * Node. It gets a process group of its own, and stopApps kills the whole group: launchers start the
 * app in a child (npm, a shell, then node), and the app must not outlive the test.
 */
export function startCommand(command: string, args: readonly string[], options: CommandOptions = {}): App {
  const { preload = 'node-options' } = options;
  const env = appEnv(preload, options);
  if (FIXTURE_NODE !== 'node') env.PATH = [dirname(FIXTURE_NODE), env.PATH].filter(Boolean).join(delimiter);
  return launch(command, args, env, { cwd: options.cwd ?? APP_DIR, group: true, listeningOn: options.listeningOn });
}

function registerFlag(preload: Preload): string {
  return `--${preload === 'require' ? 'require' : 'import'}=@rustok/otel/register`;
}

function appEnv(preload: Preload, options: Pick<AppOptions, 'receiver' | 'protocol' | 'env'>): Record<string, string | undefined> {
  const { receiver, protocol = 'grpc' } = options;
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    FORCE_COLOR: '0',
    OTEL_ENABLED: 'true',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ...(receiver && {
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_EXPORTER_OTLP_ENDPOINT: protocol === 'grpc' ? receiver.grpcUrl : receiver.httpUrl,
    }),
    ...(preload === 'node-options' && { NODE_OPTIONS: registerFlag(preload) }),
    ...options.env,
  };
}

function launch(
  command: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
  { cwd, group = false, listeningOn = /listening (\d+)/ }: { cwd: string; group?: boolean; listeningOn?: RegExp | undefined },
): App {
  const child = spawn(command, args, {
    cwd,
    env: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  running.add(child);
  if (group) groups.add(child);
  const shown = [command, ...args].join(' ');
  const which = `${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown} (pid ${child.pid})`;
  let stdout = '';
  let stderr = '';
  const output = () => `\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const closed = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      // A group stays listed: what its leader started may outlive it, and stopApps ends the group.
      if (!group) running.delete(child);
      resolve({ code, signal });
    }),
  );
  const exitedWithin = (timeoutMs: number) =>
    within(closed, timeoutMs, () =>
      // 'close' waits for the pipes as well, which a process it started may still hold.
      child.exitCode === null && child.signalCode === null
        ? `the end of ${which}, still running${output()}`
        : `the end of ${which}: it ended (${child.exitCode ?? child.signalCode}), but a process it started still holds its stdout or stderr${output()}`,
    );
  const waitFor =
    (name: 'stdout' | 'stderr', stream: NodeJS.ReadableStream, text: () => string) =>
    (pattern: RegExp, timeoutMs = WAIT_MS) => {
      let check = () => {};
      const printed = new Promise<RegExpMatchArray>((resolve, reject) => {
        check = () => {
          const match = text().match(pattern);
          if (match) resolve(match);
        };
        stream.on('data', check);
        check();
        void closed.then((exit) =>
          reject(new Error(`${which} ended (${exit.code ?? exit.signal}) before printing ${pattern} on ${name}${output()}`)),
        );
      });
      return within(printed, timeoutMs, () => `${pattern} on the ${name} of ${which}${output()}`).finally(() => stream.off('data', check));
    };
  const waitForStdout = waitFor('stdout', child.stdout, () => stdout);
  const waitForStderr = waitFor('stderr', child.stderr, () => stderr);
  const listening = waitForStdout(listeningOn).then((match) => Number(match[1]));
  listening.catch(() => {});
  return {
    pid: child.pid ?? -1,
    stdout: () => stdout,
    stderr: () => stderr,
    get exited() {
      return exitedWithin(WAIT_MS);
    },
    exitedWithin,
    listening,
    waitForStdout,
    waitForStderr,
    async get(path, headers = {}) {
      const url = `http://127.0.0.1:${await listening}${path}`;
      try {
        const response = await fetch(url, { headers, signal: AbortSignal.timeout(WAIT_MS) });
        return { status: response.status, body: await response.text() };
      } catch (error) {
        if ((error as Error).name !== 'TimeoutError') throw error;
        throw new Error(`no answer from ${which} to GET ${path} within ${WAIT_MS} ms${output()}`);
      }
    },
  };
}

/** `promise`, or a rejection after `millis` that names what it waited for (`what()`, asked then, so it can show the output so far). */
export function within<T>(promise: Promise<T>, millis: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${millis} ms: ${what()}`)), millis);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Before asserting that a span did NOT arrive: a GET of `path` in a trace the test names, waited for until
 * the receiver has its server span. The app exports one batch at a time, in the order its spans end, so
 * by then every span it ended before this request has arrived, or never will. Its caller sampled it, so
 * it is traced whatever OTEL_SAMPLING_RATE says. Returns its trace ID, to leave its own spans out.
 */
export async function sentinel(app: App, receiver: Receiver, path = '/sentinel', timeoutMs = 15_000): Promise<string> {
  const traceId = randomBytes(16).toString('hex');
  await app.get(path, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
  const SERVER = 2;
  await receiver
    .waitFor((spans) => spans.some((span) => span.traceId === traceId && span.kind === SERVER), timeoutMs)
    .catch((error: Error) => {
      throw new Error(`the sentinel request GET ${path} (trace ${traceId}) never arrived: ${error.message}\nstderr: ${app.stderr()}`);
    });
  return traceId;
}

/** For `afterEach`: every app still running is killed by its PID, and every group startCommand made with all in it. */
export function stopApps(): void {
  for (const child of running) {
    if (child.pid === undefined) continue;
    // A group's leader may be gone while processes it started still run: the group is killed all the same.
    const group = groups.has(child);
    if (!group && child.exitCode !== null) continue;
    try {
      process.kill(group ? -child.pid : child.pid, 'SIGKILL');
    } catch {
      // It ended between the check and the kill.
    }
  }
  running.clear();
}

/** Lines our package wrote to stderr, without the prefix. */
export function ourLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('@rustok/otel: '))
    .map((line) => line.slice('@rustok/otel: '.length));
}
