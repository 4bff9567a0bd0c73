// Every patch this package makes to Node's module loader is here, so their order is visible in one
// place. Two come from us: a require hook that loads an instrumentation with its module (onFirstRequire)
// and, where imports are not hooked, a Module._load hook that sends the app's `import`s of CommonJS
// packages through `require` (routeImportsThroughRequire). The instrumentations add their own require
// hook (require-in-the-middle) and, for ES modules, the import-in-the-middle hook registered here.
//
// ES modules are not patched by require hooks. Where Node runs loader hooks in-thread, the
// import-in-the-middle hook wraps the modules our instrumentations patch. Where it would run them in a
// worker (Node 20, early 22), starting that worker costs ~50 ms, so the hook is registered only when
// an instrumented package the app can import is ES module code, or an ES module app has a package
// whose instrumentation replaces the module; an `import` of a CommonJS package is otherwise sent
// through `require`, where the instrumentations see it. import-in-the-middle is the installed
// package, never bundled: the hook and the instrumentations must share its one copy.
import { existsSync, readFileSync } from 'node:fs';
import Module, { createRequire, isBuiltin } from 'node:module';
import { dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sayOnce } from '../log.js';
import { nodeAtLeast } from '../node-version.js';
import { packageJsonsAbove, readPackageJson } from '../package-json.js';

const requireHere = createRequire(import.meta.url);

type ModuleInternals = typeof Module & {
  registerHooks?: unknown;
  _load(request: string, parent: unknown, isMain: boolean): unknown;
  _cache: Record<string, { exports: unknown } | undefined>;
  prototype: { require(id: string): unknown };
};

/** How the app's `import`s of instrumented modules get patched. */
export type ImportPatching = 'in-thread hook' | 'loader-thread hook' | 'through require';

/**
 * Which way imports are patched here. `replacesModules`: an instrumentation patches by replacing its
 * module, which reaches an `import` only through the hook; an app whose entry is an ES module is
 * expected to import it.
 */
export function importPatching(modules: readonly string[], appEntry: string, replacesModules: boolean): ImportPatching {
  if (
    typeof (Module as ModuleInternals).registerHooks === 'function' &&
    requireHere('import-in-the-middle/register-hooks.mjs').supportsSyncHooks()
  ) {
    return 'in-thread hook';
  }
  const hookNeeded = !importReachesLoad() || importsEsModuleCode(modules, appEntry) || (replacesModules && entryIsEsModule(appEntry));
  return hookNeeded ? 'loader-thread hook' : 'through require';
}

/** Makes the app's `import`s of the instrumented `modules` patched like its `require`s, the way `how` says. */
export function patchImports(how: ImportPatching, modules: readonly string[], appEntry: string): void {
  const include = [...new Set(modules)];
  // Required through the instrumentations' require hook before anything else can: `node -e` and `-p`
  // give the app a lazy global `module` whose getter requires it later with no parent, which
  // import-in-the-middle 3.6 (Node >= 22.15) then loads as a file named `module` and the process dies.
  requireHere('node:module');
  // An ES module's `import { get } from 'node:http'` copies the builtin's exports when it is first
  // imported: patched by now, they are the instrumented ones, whichever way imports are hooked.
  for (const id of include) if (isBuiltin(id)) requireHere(id);
  Module.syncBuiltinESMExports();
  if (how === 'in-thread hook') {
    requireHere('import-in-the-middle/register-hooks.mjs').register({ include });
  } else if (how === 'loader-thread hook') {
    // A file URL, not a path: a path is read as a URL (a drive letter as its scheme, `#` as a fragment).
    Module.register(pathToFileURL(requireHere.resolve('import-in-the-middle/hook.mjs')), import.meta.url, { data: { include } });
  } else {
    routeImportsThroughRequire(Module as ModuleInternals, appEntry);
  }
}

/** Node 20.6.0 loads an imported CommonJS module without Module._load; every later version calls it. */
function importReachesLoad(): boolean {
  return nodeAtLeast(20, 6, 1);
}

/**
 * Calls `load` once per entry, when the app first requires one of its modules (or a file in one).
 * require-in-the-middle, the instrumentations' require hook, looks up which instrumentations patch a
 * module once the module has loaded, so one installed before this hook (with metrics on, by the
 * runtime instrumentation) sees the new instrumentation either way. One installed by `load` itself
 * (the first instrumentation of all) wraps Node's require only from then on: the require that
 * triggered it is sent through that new hook, or its module would stay unpatched.
 */
export function onFirstRequire<T extends { readonly modules: readonly string[] }>(entries: readonly T[], load: (entry: T) => void): void {
  const waiting = new Map(entries.flatMap((entry) => entry.modules.map((id) => [id, entry] as const)));
  const require_ = Module.prototype.require;
  Module.prototype.require = function onFirstRequire(this: NodeJS.Module, id: string) {
    const entry = waiting.size > 0 ? (waiting.get(id) ?? waiting.get(packageName(id) ?? '')) : undefined;
    const outermost = Module.prototype.require;
    if (entry) {
      for (const module of entry.modules) waiting.delete(module);
      load(entry);
    }
    const installedMeanwhile = Module.prototype.require !== outermost;
    // biome-ignore lint/complexity/noArguments: forwarded as it is
    return Reflect.apply(installedMeanwhile ? Module.prototype.require : require_, this, arguments);
  };
}

/** The package a require names: `pg` for `pg/lib/client`, and for a file path inside node_modules. */
export function packageName(id: string): string | undefined {
  const marker = `${sep}node_modules${sep}`;
  const inModules = id.lastIndexOf(marker);
  const bare = inModules >= 0 ? id.slice(inModules + marker.length) : isAbsolute(id) || id.startsWith('.') ? undefined : id;
  const [first = '', second = ''] = bare?.split(/[\\/]/) ?? [];
  return first.startsWith('@') ? `${first}/${second}` : first || undefined;
}

/**
 * An `import` of a CommonJS package reaches Module._load with no parent, a path the require hooks do
 * not see: sending it through `require` lets the instrumentations patch it as they would a require.
 * The entry script is left alone (some Node versions load it the same way, without `isMain`), so
 * that `require.main` stays the app's.
 */
function routeImportsThroughRequire(Module: ModuleInternals, appEntry: string): void {
  const load = Module._load;
  const importer: object = Reflect.construct(Module, [appEntry]);
  let main: string | undefined;
  try {
    main = requireHere.resolve(appEntry);
  } catch {
    main = appEntry;
  }
  Module._load = function (this: unknown, request, parent, isMain) {
    const fromImport = parent === undefined && !isMain && request !== main && request.includes(`${sep}node_modules${sep}`);
    if (!fromImport) return load.call(this, request, parent, isMain);
    const exports = Module.prototype.require.call(importer, request);
    // The ES module loader keeps the module it loaded: a replacement never reaches the import.
    const cached = Module._cache[request];
    if (cached && cached.exports !== exports) missedReplacement(request);
    return exports;
  };
}

/** As Node decides: by extension, then the nearest package.json's "type", then (when it has none) the syntax. */
function entryIsEsModule(file: string): boolean {
  try {
    if (isEsModule(file)) return true;
    if (['.cjs', '.cts'].includes(extname(file)) || nearestManifest(file)?.type !== undefined) return false;
    return /^\s*(import\s*[\w{*'"]|export\s)/m.test(readFileSync(file, 'utf8'));
  } catch {
    return true;
  }
}

function missedReplacement(file: string): void {
  sayOnce(
    `${packageName(file) ?? file} is imported as an ES module and its instrumentation replaces the module, which the import cannot see: ` +
      `its spans or log fields are missing. Please report it to @rustok/otel`,
  );
}

/**
 * Whether one of these packages, as the app at `appEntry` would import it, is ES module code. An ES
 * module wrapper that only re-exports the package's CommonJS (pg's, koa's) is not: the CommonJS under
 * it is what gets patched. Anything unreadable counts as ES module code, so the hook is the fallback.
 */
export function importsEsModuleCode(modules: readonly string[], appEntry: string): boolean {
  return modules.some((id) => {
    if (isBuiltin(id)) return false;
    const dir = packageDir(id, dirname(appEntry));
    if (!dir) return false;
    try {
      const file = importEntry(dir);
      return file !== undefined && isEsModule(file) && !isCommonJsWrapper(file);
    } catch {
      return true;
    }
  });
}

function packageDir(id: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', id);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

const IMPORT_CONDITIONS = ['node', 'import', 'module-sync', 'default'];

/** The file `import '<package>'` loads, by the package's "exports" (or "main"). */
function importEntry(dir: string): string | undefined {
  const manifest = readManifest(join(dir, 'package.json'));
  const { exports } = manifest;
  const root =
    exports && typeof exports === 'object' && !Array.isArray(exports) && Object.keys(exports).some((key) => key.startsWith('.'))
      ? (exports as Record<string, unknown>)['.']
      : exports;
  const target = root === undefined ? (manifest.main ?? 'index.js') : pick(root);
  if (typeof target !== 'string') return undefined;
  const file = resolve(dir, target);
  return existsSync(file) ? file : [`${file}.js`, join(file, 'index.js')].find((candidate) => existsSync(candidate));
}

function pick(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) return target.map(pick).find((found) => found !== undefined);
  if (target && typeof target === 'object') {
    for (const [condition, value] of Object.entries(target)) {
      if (IMPORT_CONDITIONS.includes(condition)) {
        const found = pick(value);
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

function isEsModule(file: string): boolean {
  const extension = extname(file);
  if (extension === '.mjs' || extension === '.mts') return true;
  if (extension === '.cjs' || extension === '.cts') return false;
  return nearestManifest(file)?.type === 'module';
}

function nearestManifest(file: string): Manifest | undefined {
  for (const found of packageJsonsAbove(dirname(file))) return readManifest(found.file, found.manifest);
  return undefined;
}

/** A small ES module whose every import is a relative path to CommonJS. */
function isCommonJsWrapper(file: string): boolean {
  const source = readFileSync(file, 'utf8');
  if (source.length > 4096) return false;
  const specifiers = [...source.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((match) => match[1] as string);
  return (
    specifiers.length > 0 && specifiers.every((specifier) => specifier.startsWith('.') && !isEsModule(resolve(dirname(file), specifier)))
  );
}

type Manifest = { exports?: unknown; main?: string; type?: string };

/** Throws for a package.json that is no JSON object: the callers count anything unreadable as ES module code. */
function readManifest(file: string, manifest = readPackageJson(file)): Manifest {
  if (manifest === undefined) throw new Error(`${file} is unreadable`);
  return manifest;
}
