// The preload: `node --import @rustok/otel/register app.js` (or --require, or NODE_OPTIONS).
// Tracing is off unless OTEL_ENABLED is set, so until then nothing else is loaded: nothing from
// @opentelemetry, not even the config parser.
import { createRequire } from 'node:module';

// `rustok-otel doctor` runs with the app's environment, NODE_OPTIONS included: it is not the app.
const ourCli = /(^|[\\/])(rustok-otel|@rustok[\\/]otel[\\/]dist[\\/]cli\.cjs)$/.test(process.argv[1] ?? '');

if (process.env.OTEL_ENABLED?.trim() && !ourCli) {
  try {
    // Synchronous, so the SDK is up before the first line of the app runs under --import and --require alike.
    createRequire(import.meta.url)('./sdk.cjs').register(process.env);
  } catch (error) {
    process.stderr.write(
      `@rustok/otel: could not start tracing (${error instanceof Error ? error.message : error}); the app runs untraced\n`,
    );
  }
}
