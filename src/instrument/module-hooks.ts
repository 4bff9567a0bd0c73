// ES modules are not patched by require hooks. Where Node runs loader hooks in-thread, the
// import-in-the-middle hook wraps the modules our instrumentations patch. Where it would run them in a
// worker (Node 20, early 22), starting that worker costs ~50 ms, so the hook is registered only when
// an instrumented package the app can import is ES module code, or an ES module app has a package
// whose instrumentation replaces the module; an `import` of a CommonJS package is otherwise sent
// through `require`, where the instrumentations see it. import-in-the-middle is the installed
// package, never bundled: the hook and the instrumentations must share its one copy.
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageName } from './catalogue.js';
import { sayOnce } from '../log.js';

type ModuleInternals = typeof import('node:module') & {
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
  const Module = require('node:module') as ModuleInternals;
  if (typeof Module.registerHooks === 'function' && require('import-in-the-middle/register-hooks.mjs').supportsSyncHooks()) {
    return 'in-thread hook';
  }
  const hookNeeded = !importReachesLoad() || importsEsModuleCode(modules, appEntry) || (replacesModules && entryIsEsModule(appEntry));
  return hookNeeded ? 'loader-thread hook' : 'through require';
}

/** Makes the app's `import`s of the instrumented `modules` patched like its `require`s, the way `how` says. */
export function patchImports(how: ImportPatching, modules: readonly string[], appEntry: string): void {
  const include = [...new Set(modules)];
  const Module = require('node:module') as ModuleInternals;
  // An ES module's `import { get } from 'node:http'` copies the builtin's exports when it is first
  // imported: patched by now, they are the instrumented ones, whichever way imports are hooked.
  for (const id of include) if (isBuiltin(id)) require(id);
  Module.syncBuiltinESMExports();
  if (how === 'in-thread hook') {
    require('import-in-the-middle/register-hooks.mjs').register({ include });
  } else if (how === 'loader-thread hook') {
    const hook = pathToFileURL(require.resolve('import-in-the-middle/hook.mjs'));
    Module.register(hook, pathToFileURL(__filename), { data: { include } });
  } else {
    routeImportsThroughRequire(Module, appEntry);
  }
}

/** Node 20.6.0 loads an imported CommonJS module without Module._load; every later version calls it. */
function importReachesLoad(): boolean {
  const [major = 0, minor = 0, patch = 0] = process.versions.node.split('.').map(Number);
  return major > 20 || minor > 6 || patch > 0;
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
    main = require.resolve(appEntry);
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
  const manifest = readJson(join(dir, 'package.json'));
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

function nearestManifest(file: string): ReturnType<typeof readJson> | undefined {
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) return readJson(manifest);
  }
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

function readJson(file: string): { exports?: unknown; main?: string; type?: string } {
  const parsed = JSON.parse(readFileSync(file, 'utf8'));
  return parsed && typeof parsed === 'object' ? parsed : {};
}
