// Starts a fixture app the way a user would (preloading the installed package by its public name)
// and stops every app it started by PID when the test ends, pass or fail.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
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
  readonly exited: Promise<Exit>;
  /** Resolves with the port the app printed as `listening <port>`. */
  readonly listening: Promise<number>;
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
  get(path: string): Promise<{ status: number; body: string }>;
}

const running = new Set<ChildProcess>();
/** Those started in a process group of their own (startCommand): stopped with every process in it. */
const groups = new WeakSet<ChildProcess>();

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
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      // A group stays listed: what its leader started may outlive it, and stopApps ends the group.
      if (!group) running.delete(child);
      resolve({ code, signal });
    }),
  );
  const waitFor = (stream: NodeJS.ReadableStream, text: () => string) => (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = text().match(pattern);
        if (!match) return;
        stream.off('data', check);
        resolve(match);
      };
      stream.on('data', check);
      check();
      void exited.then(() => reject(new Error(`app exited before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`)));
    });
  const waitForStdout = waitFor(child.stdout, () => stdout);
  const waitForStderr = waitFor(child.stderr, () => stderr);
  const listening = waitForStdout(listeningOn).then((match) => Number(match[1]));
  listening.catch(() => {});
  return {
    pid: child.pid ?? -1,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    listening,
    waitForStdout,
    waitForStderr,
    async get(path) {
      const response = await fetch(`http://127.0.0.1:${await listening}${path}`);
      return { status: response.status, body: await response.text() };
    },
  };
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
