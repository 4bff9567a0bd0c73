// The preload: `node --import @rustok/otel/register app.js` (or --require, or NODE_OPTIONS).
// Tracing is off unless OTEL_ENABLED is set, so until then nothing else is loaded: nothing from
// @opentelemetry, not even the config parser. Worker threads and launchers (npm, npx, the tsx
// command, …) get no tracer of their own: the app they run is the one to trace.
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { isLauncher } from './src/preload/launcher.js';

if (process.env.OTEL_ENABLED?.trim() && isMainThread && !isLauncher(process.argv[1])) {
  try {
    // Synchronous, so the SDK is up before the first line of the app runs under --import and --require alike.
    createRequire(import.meta.url)('./sdk.cjs').register(process.env);
  } catch (error) {
    process.stderr.write(
      `@rustok/otel: could not start tracing (${error instanceof Error ? error.message : error}); the app runs untraced\n`,
    );
  }
}
