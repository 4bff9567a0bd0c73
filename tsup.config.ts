import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

// The SDK is a CommonJS-only internal chunk: both `register` builds load it with a synchronous
// require, so `--require`, `--import` and NODE_OPTIONS all start tracing before the app's code runs.
export default defineConfig([
  {
    entry: { index: 'src/index.ts', register: 'register.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    shims: true,
    // One file per entry: a shared chunk is one more module to resolve and load at start.
    splitting: false,
    target: 'node20',
  },
  {
    entry: { sdk: 'src/sdk.ts' },
    format: ['cjs'],
    // Inlined at build time, so no package.json is read at start-up.
    env: { RUSTOK_OTEL_VERSION: version },
    target: 'node20',
    // Bundled: the SDK parts only we use, so they cost one file instead of dozens. Left out: what the
    // instrumentations load as well (@opentelemetry/api, core, instrumentation) and the exporters.
    noExternal: [
      '@opentelemetry/sdk-trace-base',
      '@opentelemetry/sdk-trace',
      '@opentelemetry/resources',
      '@opentelemetry/context-async-hooks',
    ],
    // A bundle of its own, required only when metrics are on.
    external: ['./metrics.cjs'],
  },
  {
    entry: { metrics: 'src/metrics.ts' },
    format: ['cjs'],
    target: 'node20',
    noExternal: [
      '@opentelemetry/sdk-metrics',
      '@opentelemetry/exporter-prometheus',
      '@opentelemetry/resources',
      '@opentelemetry/semantic-conventions',
    ],
  },
  {
    entry: { cli: 'src/cli.ts' },
    format: ['cjs'],
    target: 'node20',
    env: { RUSTOK_OTEL_VERSION: version },
    banner: { js: '#!/usr/bin/env node' },
    // A command, not a preload: one self-contained file, its start-up cost is no app's. The
    // instrumentations stay where npm put them: the doctor asks which of them the app can load.
    noExternal: [/^(?!@opentelemetry\/auto-instrumentations-node$)/],
  },
  {
    entry: { 'export-worker': 'src/export-worker.ts' },
    format: ['cjs'],
    target: 'node20',
    // The export thread has a module cache of its own and shares nothing with the app: one file
    // with everything it needs starts faster than the hundreds it would otherwise resolve and read.
    noExternal: [/./],
  },
]);
