// Throwaway PostgreSQL, Redis and Prometheus servers on loopback for end-to-end tests. Each is spawned directly (no pg_ctl,
// no service manager) so we own its PID and can stop it when the test ends, pass or fail.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { closedPort } from './target.js';

export interface Server {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

interface Running {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly exited: Promise<void>;
}

const STARTUP_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const POLICY_RC = '/usr/sbin/policy-rc.d';
export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';
// A minimal environment, so the caller's PG* or locale variables cannot change how the servers start.
const ENV = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const execFileAsync = promisify(execFile);
const running = new Set<Running>();

// A test process that exits without stopping its servers must not leave them behind.
process.on('exit', () => {
  for (const { child, dir } of running) {
    kill(child, 'SIGKILL');
    remove(dir);
  }
});

type ServerPackage = 'postgresql' | 'redis-server' | 'prometheus';

const installed: Record<ServerPackage, () => boolean> = {
  postgresql: () => postgresBin() !== undefined,
  'redis-server': () => redisBin() !== undefined,
  prometheus: () => existsSync(PROMETHEUS) && existsSync(PROMTOOL),
};

/** Installs those of Debian's postgresql, redis-server and prometheus whose binaries are missing, without starting any service. */
export function installServerPackages(wanted: readonly ServerPackage[] = ['postgresql', 'redis-server', 'prometheus']): void {
  const missing = wanted.filter((name) => !installed[name]());
  if (missing.length === 0) return;
  // Any prometheus the install starts anyway (policy-rc.d should stop it) is told apart from one running before.
  const before = new Set(pidsOf(PROMETHEUS));
  const what = `installServerPackages: could not install ${missing.join(' ')}`;
  const backup = mkdtempSync(join(tmpdir(), 'rustok-policy-rc-'));
  try {
    // The postinst scripts start the default cluster and the redis service through invoke-rc.d, which asks
    // policy-rc.d first: exit 101 means "not allowed". An existing one (as in Docker images) is set aside.
    asRoot(what, 'sh', [
      '-c',
      'if [ -e "$1" ] || [ -L "$1" ]; then mv "$1" "$2/"; fi && printf "#!/bin/sh\\nexit 101\\n" > "$1" && chmod 755 "$1"',
      'sh',
      POLICY_RC,
      backup,
    ]);
    try {
      const aptGet = (...args: string[]) =>
        asRoot(what, 'env', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-y', '-o', 'DPkg::Lock::Timeout=120', ...args]);
      aptGet('update');
      aptGet('--no-install-recommends', 'install', ...missing);
    } finally {
      asRoot(what, 'sh', [
        '-c',
        'rm -f "$1"; if [ -e "$2/policy-rc.d" ] || [ -L "$2/policy-rc.d" ]; then mv "$2/policy-rc.d" "$1"; fi',
        'sh',
        POLICY_RC,
        backup,
      ]);
    }
  } finally {
    rmSync(backup, { recursive: true, force: true });
    for (const pid of pidsOf(PROMETHEUS).filter((pid) => !before.has(pid))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It ended on its own.
      }
    }
  }
  if (missing.some((name) => !installed[name]())) {
    throw new Error(`${what}: apt-get succeeded but the binaries are still missing`);
  }
}

/** initdb into a fresh temp dir (trust auth), then `postgres` itself on 127.0.0.1 and a free port; resolves once `SELECT 1` answers. */
export async function startPostgres(): Promise<Server> {
  const bin = postgresBin();
  if (!bin) throw new Error('startPostgres: no /usr/lib/postgresql/*/bin/postgres; run installServerPackages() first');
  const user = postgresUser();
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'rustok-postgres-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  // cwd is the temp dir because the postgres user may not be able to read the caller's.
  const options = { cwd: dir, env: ENV, ...user };
  try {
    await execFileAsync(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      options,
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`startPostgres: initdb failed: ${firstLine(error)}\n${stdout}${stderr}`);
  }
  const settings = ['listen_addresses=127.0.0.1', `port=${port}`, `unix_socket_directories=${dir}`, 'fsync=off'];
  const args = ['-D', data, ...settings.flatMap((setting) => ['-c', setting])];
  const connection = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres'];
  const ready = () =>
    execFileAsync(join(bin, 'psql'), ['-X', '-A', '-t', ...connection, '-c', 'SELECT 1'], {
      env: { ...ENV, PGCONNECT_TIMEOUT: '2' },
      timeout: 5_000,
    }).then(
      ({ stdout }) => stdout.trim() === '1',
      () => false,
    );
  // SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client to disconnect first.
  return launch('postgres', join(bin, 'postgres'), args, options, ready, 'SIGINT', `postgres://postgres@127.0.0.1:${port}/postgres`, port);
}

/** redis-server without persistence on 127.0.0.1 and a free port; resolves once PING answers PONG. */
export async function startRedis(): Promise<Server> {
  const bin = redisBin();
  if (!bin) throw new Error('startRedis: no redis-server on PATH; run installServerPackages() first');
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'rustok-redis-'));
  // No config file, so nothing from /etc/redis applies; an empty logfile means stdout.
  const settings = { port: String(port), bind: '127.0.0.1', save: '', appendonly: 'no', dir, daemonize: 'no', logfile: '' };
  const args = Object.entries(settings).flatMap(([name, value]) => [`--${name}`, value]);
  return launch('redis-server', bin, args, { cwd: dir, env: ENV }, () => ping(port), 'SIGTERM', `redis://127.0.0.1:${port}`, port);
}

export interface PrometheusAnswer {
  readonly status: 'success' | 'error';
  readonly data?: { readonly resultType: string; readonly result: { metric: Record<string, string>; value: [number, string] }[] };
  readonly errorType?: string;
  readonly error?: string;
}

export interface Prometheus extends Server {
  /** An instant query through `GET /api/v1/query`, answered with the API's JSON whatever its HTTP status. */
  query(promql: string): Promise<PrometheusAnswer>;
}

/**
 * Prometheus itself on 127.0.0.1 and a free port, scraping the targets (and evaluating the rule files, absolute paths) at the
 * interval; resolves once `/-/ready` answers 200.
 */
export async function startPrometheus(
  scrapeTargets: { job: string; target: string }[],
  scrapeIntervalSeconds = 1,
  ruleFiles: readonly string[] = [],
): Promise<Prometheus> {
  if (!existsSync(PROMETHEUS)) throw new Error(`startPrometheus: no ${PROMETHEUS}; run installServerPackages() first`);
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'rustok-prometheus-'));
  const interval = `${scrapeIntervalSeconds}s`;
  // JSON is YAML.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: ruleFiles,
    scrape_configs: scrapeTargets.map(({ job, target }) => ({ job_name: job, static_configs: [{ targets: [target] }] })),
  };
  writeFileSync(join(dir, 'prometheus.yml'), `${JSON.stringify(config, null, 2)}\n`);
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];
  const ready = () =>
    fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
  const server = await launch('prometheus', PROMETHEUS, args, { cwd: dir, env: ENV }, ready, 'SIGTERM', url, port);
  return {
    ...server,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`, {
        signal: AbortSignal.timeout(10_000),
      });
      return (await response.json()) as PrometheusAnswer;
    },
  };
}

/** For `after`/`afterEach`: every server still running is killed by its PID and its temp dir removed. */
export async function stopServers(): Promise<void> {
  const all = [...running];
  running.clear();
  for (const { child } of all) kill(child, 'SIGKILL');
  await Promise.all(all.map(({ exited, dir }) => exited.then(() => remove(dir))));
}

async function launch(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number },
  ready: () => Promise<boolean>,
  stopSignal: NodeJS.Signals,
  url: string,
  port: number,
): Promise<Server> {
  // The server's temp dir is its cwd.
  const dir = options.cwd;
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  // Only the tail: it is for error messages, and a long test must not grow it without bound.
  const append = (chunk: string) => {
    log = (log + chunk).slice(-20_000);
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  // 'exit', not 'close': PostgreSQL's backends inherit the pipes and may outlive a killed postmaster.
  const exited = new Promise<void>((resolve) => {
    child.on('error', (error) => {
      append(`${error.message}\n`);
      resolve();
    });
    child.on('exit', () => resolve());
  });
  const record: Running = { child, dir, exited };
  running.add(record);
  const deadline = Date.now() + STARTUP_MS;
  const started = Date.now();
  while (!(await ready())) {
    const dead = child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
    if (dead || Date.now() > deadline) {
      running.delete(record);
      kill(child, 'SIGKILL');
      await exited;
      remove(dir);
      const why = dead ? `exited (${child.exitCode ?? child.signalCode ?? 'spawn failed'})` : `was not ready within ${STARTUP_MS / 1000} s`;
      throw new Error(`${name} on port ${port} ${why} after ${Date.now() - started} ms; its log:\n${log}`);
    }
    await delay(100);
  }
  return {
    url,
    port,
    pid: child.pid!,
    async stop() {
      if (running.delete(record)) {
        kill(child, stopSignal);
        const timer = setTimeout(() => kill(child, 'SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      } else {
        await exited;
      }
      remove(dir);
    },
  };
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // It ended between the check and the kill.
  }
}

// Retries because a killed postmaster's backends may still be writing in the data dir for a moment.
function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/** True once the server answers PING with PONG on a raw RESP connection. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8').setTimeout(1_000);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) socket.end();
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => resolve(reply.startsWith('+PONG')));
  });
}

/** The bin dir of the newest PostgreSQL under /usr/lib/postgresql, if any. */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  return readdirSync(root)
    .filter((version) => /^\d+(\.\d+)?$/.test(version) && existsSync(join(root, version, 'bin/postgres')))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => join(root, version, 'bin'))[0];
}

/** The PIDs of the processes running `binary`, from /proc. */
function pidsOf(binary: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/exe`) === binary;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function redisBin(): string | undefined {
  return [...ENV.PATH.split(delimiter), '/usr/bin'].map((directory) => join(directory, 'redis-server')).find((path) => existsSync(path));
}

// PostgreSQL refuses to run as root, so as root initdb and postgres run as the `postgres` user the package created.
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((line) => line.startsWith('postgres:'));
  if (!entry) throw new Error('startPostgres: running as root but there is no `postgres` user; run installServerPackages() first');
  const [, , uid, gid] = entry.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

// apt-get and policy-rc.d need root; elsewhere (a CI runner's user) passwordless sudo stands in.
function asRoot(what: string, command: string, args: string[]): void {
  const [file, argv] = process.getuid?.() === 0 ? [command, args] : ['sudo', ['-n', command, ...args]];
  try {
    execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    const hint = file === 'sudo' ? ' (needs root or passwordless sudo)' : '';
    throw new Error(
      `${what}${hint}: \`${[command, ...args].join(' ')}\` failed: ${firstLine(error)}\n${`${stdout}${stderr}`.slice(-4_000)}`,
    );
  }
}

// The rest of an exec error's message repeats the stderr that is appended anyway.
function firstLine(error: unknown): string {
  return String((error as Error).message).split('\n')[0]!;
}
