// The one answer to "which app is this": its entry script, and the package.json that names it. Every
// part that needs the app's name, version or dependencies (the resource, the instrumentations,
// doctor) asks here.
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { type Config, type ConfigResult, DEFAULT_SOURCE } from '../config/types.js';
import { type PackageJson, packageJsonsAbove, readPackageJson } from '../package-json.js';

export interface AppPackage {
  readonly name?: string;
  readonly version?: string;
  /** Every package it depends on, of any kind. */
  readonly dependencies: readonly string[];
  /** Where the name came from: a package.json's path, `npm_package_name`, or undefined when none was found. */
  readonly source?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The script Node was started with, as an absolute path. `node .` and `node /srv/app` name a folder
 * (and so does process.argv[1]); Node runs its package.json's "main", or its index.js.
 */
export function appEntry(argv: readonly string[] = process.argv, cwd = process.cwd()): string {
  const script = argv[1];
  const path = script && isAbsolute(script) ? script : join(cwd, script ?? 'index.js');
  if (!isFolder(path)) return path;
  try {
    return createRequire(join(path, 'package.json')).resolve(path);
  } catch {
    return join(path, 'index.js');
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The app's package. Normally the package.json nearest to the entry script with a name (nameless ones
 * on the way, `{"type": "module"}` beside a build's output, only set the module format). An entry
 * inside node_modules is a framework's or a tool's command (`next start`, `fastify start`, a pnpm
 * shim) rather than the app: then the package npm started (npm_package_json, which npx in a
 * workspace member sets right where npm_package_name names the root; else npm_package_name), or the
 * one the process runs in (the nearest with a name from the working directory), and only when none
 * has a name the entry's own: a service deployed as a package and started from node_modules, unless
 * the entry is one of that package's commands (`bin`), which makes it a tool.
 */
export function findAppPackage(entry: string, cwd = process.cwd(), env: Env = process.env): AppPackage {
  const own = () => nearestNamed(dirname(entry));
  if (!entry.split(sep).includes('node_modules')) return own();
  const started = env.npm_package_json?.trim();
  const npm = started && existsSync(started) ? nearestNamed(dirname(started)) : undefined;
  if (npm?.name !== undefined) return npm;
  const here = nearestNamed(cwd);
  const name = env.npm_package_name?.trim();
  if (name) return { ...here, name, version: env.npm_package_version?.trim() || undefined, source: 'npm_package_name' };
  if (here.name !== undefined) return here;
  const entryPackage = own();
  return entryPackage.source !== undefined && isCommandOf(entry, entryPackage.source) ? here : entryPackage;
}

/** Whether `entry` is one of the commands (`bin`) the package at `manifestFile` declares. */
function isCommandOf(entry: string, manifestFile: string): boolean {
  const bin = readPackageJson(manifestFile)?.bin;
  const commands = typeof bin === 'string' ? [bin] : typeof bin === 'object' && bin !== null ? Object.values(bin) : [];
  return commands.some((command) => typeof command === 'string' && resolve(dirname(manifestFile), command) === resolve(entry));
}

/** The service as every part names it: the variables first, else the app's package, else OpenTelemetry's default. */
export function serviceIdentity(
  config: Pick<Config, 'serviceName' | 'serviceVersion'>,
  app: AppPackage,
): { name: string; version?: string } {
  const version = config.serviceVersion ?? app.version;
  return { name: config.serviceName ?? app.name ?? 'unknown_service:node', ...(version ? { version } : {}) };
}

/** Where serviceIdentity's name and version come from: their variable, the app's package (npm's variables or its package.json), or `default`. */
export function serviceIdentitySources(
  config: Pick<Config, 'serviceName' | 'serviceVersion'>,
  app: AppPackage,
  sources: Pick<ConfigResult['sources'], 'serviceName' | 'serviceVersion'>,
): { name: string; version: string } {
  const fromApp = app.source ?? DEFAULT_SOURCE;
  return {
    name: config.serviceName !== undefined ? sources.serviceName : app.name !== undefined ? fromApp : DEFAULT_SOURCE,
    version:
      config.serviceVersion !== undefined
        ? sources.serviceVersion
        : app.version === undefined
          ? DEFAULT_SOURCE
          : fromApp === 'npm_package_name'
            ? 'npm_package_version'
            : fromApp,
  };
}

/** The nearest package.json with a name; an unreadable one on the way ends the search, the root's counts nameless too. */
function nearestNamed(start: string): AppPackage {
  for (const { file, manifest } of packageJsonsAbove(start)) {
    if (manifest === undefined) return { dependencies: [] };
    if (typeof manifest.name === 'string' || dirname(dirname(file)) === dirname(file)) return describe(manifest, file);
  }
  return { dependencies: [] };
}

function describe(manifest: PackageJson, file: string): AppPackage {
  const name = typeof manifest.name === 'string' ? manifest.name : undefined;
  return {
    name,
    version: typeof manifest.version === 'string' ? manifest.version : undefined,
    dependencies: ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'].flatMap((field) => {
      const listed = manifest[field];
      return typeof listed === 'object' && listed !== null ? Object.keys(listed) : [];
    }),
    source: name === undefined ? undefined : file,
  };
}
