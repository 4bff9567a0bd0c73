import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';
import { installedPackageJson } from './src/package-json.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const autoInstrumentations = createRequire(createRequire(import.meta.url).resolve('@opentelemetry/auto-instrumentations-node'));

/** The package.json of a package as auto-instrumentations-node resolves it. */
function manifestOf(name: string): { version: string; dependencies: Record<string, string> } {
  const manifest = installedPackageJson(name, autoInstrumentations.resolve)?.manifest;
  if (!manifest) throw new Error(`no package.json for ${name}`);
  return manifest as { version: string; dependencies: Record<string, string> };
}

/** The OpenTelemetry packages every part of the preload uses: one copy of each, in dist/opentelemetry.cjs. */
const SHARED = [
  '@opentelemetry/api',
  '@opentelemetry/api-logs',
  '@opentelemetry/core',
  '@opentelemetry/instrumentation',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/semantic-conventions',
];

/** Loaded only when the app needs them, one file each in dist/packages/: the instrumentations and resource detectors. */
const ON_DEMAND = /^@opentelemetry\/((?:instrumentation|resource-detector)-.+)$/;
const onDemandPackages = Object.keys(manifestOf('@opentelemetry/auto-instrumentations-node').dependencies).filter((name) =>
  ON_DEMAND.test(name),
);

/**
 * Rewrites the imports of one bundle so that it carries no copy of what another file has: a SHARED
 * package becomes a property of dist/opentelemetry.cjs, an ON_DEMAND one a require of its own file,
 * winston's base class the app's own (src/instrument/winston-transport.ts),
 * import-in-the-middle stays the installed package (its loader hook and the instrumentations must
 * use one copy). `dist` is the way from the bundle's file to dist/.
 */
function splitOpenTelemetry(dist: string): Plugin {
  const shared = `${dist}opentelemetry.cjs`;
  return {
    name: 'split-opentelemetry',
    setup(build) {
      build.onResolve({ filter: /^winston-transport$/ }, () => ({ path: 'winston-transport', namespace: 'app-winston-transport' }));
      build.onLoad({ filter: /.*/, namespace: 'app-winston-transport' }, () => ({
        contents: `module.exports = require(${JSON.stringify(WINSTON_TRANSPORT)}).appWinstonTransport();`,
        loader: 'js',
        resolveDir: '.',
      }));
      build.onResolve({ filter: /^import-in-the-middle(\/|$)/ }, () => ({ external: true }));
      build.onResolve({ filter: /opentelemetry\.cjs$/, namespace: 'shared' }, ({ path }) => ({ path, external: true }));
      build.onResolve({ filter: /^@opentelemetry\// }, ({ path }) => {
        if (SHARED.includes(path)) return { path, namespace: 'shared' };
        const onDemand = path.match(ON_DEMAND);
        return onDemand ? { path: `${dist}packages/${onDemand[1]}.cjs`, external: true } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'shared' }, ({ path }) => ({
        contents: `module.exports = require(${JSON.stringify(shared)}).packages[${JSON.stringify(path)}];`,
        loader: 'js',
      }));
    },
  };
}

/** @opentelemetry/winston-transport's base class, which must be the app's: see the file. */
const WINSTON_TRANSPORT = fileURLToPath(new URL('src/instrument/winston-transport.ts', import.meta.url));

/**
 * A SHARED package's ES module build (the API's `esnext` one, whose other builds are ES5), where it
 * has one: esbuild links bundled ES modules to each other directly, where CommonJS builds each get a
 * module wrapper and an object of getters for their exports. dist/opentelemetry.cjs is a fifth
 * smaller and loads in ~26 ms rather than ~32 ms; requests cost the same, within what we can measure.
 */
function moduleEntry(name: string): string {
  const { resolve } = createRequire(import.meta.url);
  const found = installedPackageJson(name, resolve);
  if (!found?.manifest) throw new Error(`no package.json for ${name}`);
  const manifest = found.manifest as { esnext?: string; module?: string; exports?: { '.'?: { default?: unknown } } };
  const esm = manifest.esnext ?? manifest.module ?? (manifest.exports?.['.']?.default as { default?: string } | undefined)?.default;
  return esm ? join(dirname(found.file), esm) : resolve(name);
}

/**
 * In dist/opentelemetry.cjs itself: each SHARED package from the top of node_modules, wherever it is
 * imported from; and sdk-trace-base's own sdk-trace, whose CommonJS build would `require` the
 * semantic conventions whole, where its ES modules import the names they use.
 */
const oneCopyEach: Plugin = {
  name: 'one-copy-each',
  setup(build) {
    const entries = new Map([...SHARED, '@opentelemetry/sdk-trace'].map((name) => [name, moduleEntry(name)]));
    build.onResolve({ filter: /^import-in-the-middle(\/|$)/ }, () => ({ external: true }));
    build.onResolve({ filter: /^@opentelemetry\// }, ({ path }) => (entries.has(path) ? { path: entries.get(path) } : undefined));
  },
};

/** What src/bundle/build-info.ts reads: fixed now, so that no package.json is read at start-up. */
const buildInfo = {
  RUSTOK_OTEL_VERSION: JSON.stringify(version),
  RUSTOK_OTEL_SDK_VERSION: JSON.stringify(manifestOf('@opentelemetry/core').version),
  RUSTOK_OTEL_INSTRUMENTATIONS_VERSION: JSON.stringify(manifestOf('@opentelemetry/auto-instrumentations-node').version),
};

// src/ is ES modules; these bundles are CommonJS, where src/bundle/import-meta-url.ts gives
// `import.meta.url` its meaning. A literal `require('…')` in src/ marks code a bundle carries but loads
// only when needed (the SDK while tracing is off, the exporter of a protocol not in use): esbuild
// bundles it all the same, and the tests load such files through `require`, as CommonJS, the way they run.
const IMPORT_META_URL = 'src/bundle/import-meta-url.ts';
const commonJs = { inject: [IMPORT_META_URL], define: { ...buildInfo, 'import.meta.url': 'importMetaUrl' } };
const node = { format: 'cjs', target: 'node20', ...commonJs } as const;

// The preload's code is CommonJS loaded with synchronous requires, so `--require`, `--import` and
// NODE_OPTIONS all start tracing before the app's code runs; and it is bundled, because resolving
// and reading the ~400 files of the packages it is made of took longer than running them.
export default defineConfig([
  {
    entry: { index: 'src/index.ts', register: 'register.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    esbuildOptions(options, { format }) {
      if (format === 'cjs') Object.assign(options, { inject: [IMPORT_META_URL], define: { 'import.meta.url': 'importMetaUrl' } });
    },
    // One file per entry: a shared chunk is one more module to resolve and load at start.
    splitting: false,
    target: 'node20',
  },
  {
    ...node,
    entry: { opentelemetry: 'src/bundle/opentelemetry.ts' },
    noExternal: [/./],
    esbuildPlugins: [oneCopyEach],
  },
  {
    ...node,
    entry: { sdk: 'src/preload/start.ts', metrics: 'src/preload/metrics.ts' },
    noExternal: [/./],
    esbuildPlugins: [splitOpenTelemetry('./')],
  },
  {
    ...node,
    entry: Object.fromEntries(
      onDemandPackages.map((name) => [`packages/${name.replace('@opentelemetry/', '')}`, autoInstrumentations.resolve(name)]),
    ),
    noExternal: [/./],
    esbuildPlugins: [splitOpenTelemetry('../')],
  },
  {
    ...node,
    entry: { cli: 'src/cli/main.ts' },
    banner: { js: '#!/usr/bin/env node' },
    // A command, not a preload: one self-contained file, its start-up cost is no app's.
    noExternal: [/./],
  },
  {
    ...node,
    entry: { testing: 'src/testing/index.ts' },
    dts: true,
    // For an app's test suite, never loaded by the preload: one self-contained file, since the
    // receiver's gRPC and protobuf code is ours to bundle, not the app's to install.
    noExternal: [/./],
  },
  {
    // The same for ES modules: a few lines that load the file above rather than a second copy of it;
    // its types are the same file's.
    entry: { testing: 'testing.ts' },
    format: 'esm',
    dts: { entry: { testing: 'src/testing/index.ts' } },
    target: 'node20',
  },
  {
    ...node,
    entry: { 'export-worker': 'src/export/worker.ts' },
    // The export thread has a module cache of its own and shares nothing with the app: one file
    // with everything it needs starts faster than the hundreds it would otherwise resolve and read.
    noExternal: [/./],
  },
]);
