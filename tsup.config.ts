import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

// The SDK is a CommonJS-only internal chunk: both `register` builds load it with a synchronous
// require, so `--require`, `--import` and NODE_OPTIONS all start tracing before the app's code runs.
export default defineConfig([
  {
    entry: { index: 'src/index.ts', register: 'register.ts' },
    format: ['esm', 'cjs'],
    dts: { entry: { index: 'src/index.ts' } },
    shims: true,
    target: 'node20',
  },
  {
    entry: { sdk: 'src/sdk.ts' },
    format: ['cjs'],
    // Inlined at build time, so no package.json is read at start-up.
    env: { RUSTOK_OTEL_VERSION: version },
    target: 'node20',
  },
]);
