// The preload: `node --import @rustok/otel/register app.js` (or --require, or NODE_OPTIONS).
// With tracing off it returns having loaded nothing from @opentelemetry.
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { parseConfig } from './src/config.js';
import { warn } from './src/log.js';

const { config, warnings } = parseConfig(process.env);
for (const warning of warnings) warn(warning);
// One SDK per process: worker threads would otherwise each start their own exporter.
if (config.enabled && isMainThread) {
  // Synchronous, so the SDK is up before the first line of the app runs under --import and --require alike.
  createRequire(import.meta.url)('./sdk.cjs').start(config);
}
