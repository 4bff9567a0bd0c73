// The preload: `node --import @rustok/otel/register app.js` (or --require, or NODE_OPTIONS).
// Tracing is off unless OTEL_ENABLED is set, so until then nothing else is loaded: nothing from
// @opentelemetry, not even the config parser. Worker threads and launchers (npm, npx, the tsx
// command, …) get no tracer of their own: the app they run is the one to trace.
import { createRequire } from 'node:module';
import { isLauncher } from './src/preload/launcher.js';

const requireHere = createRequire(import.meta.url);

// node:worker_threads last: loading it is milliseconds of a start that tracing is not asked for.
if (process.env.OTEL_ENABLED?.trim() && !isLauncher(process.argv[1]) && requireHere('node:worker_threads').isMainThread) {
  try {
    // Synchronous, so the SDK is up before the first line of the app runs under --import and --require alike.
    requireHere('./sdk.cjs').register(process.env);
  } catch (error) {
    process.stderr.write(
      `@rustok/otel: could not start tracing (${error instanceof Error ? error.message : error}); the app runs untraced\n`,
    );
  }
}
