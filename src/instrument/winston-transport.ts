// The winston instrumentation sends records through @opentelemetry/winston-transport, a transport
// class that extends winston's own base class (the `winston-transport` package). The build bundles
// the former and points its `require('winston-transport')` here (tsup.config.ts): the base class is
// the app's, the one its winston checks transports against, and the package carries no copy of it.
import { createRequire } from 'node:module';
import { appEntry } from '../preload/app-package.js';

const requireHere = createRequire(import.meta.url);
const WINSTON_MAIN = /[\\/]winston[\\/]lib[\\/]winston\.js$/;

/** winston's `Transport` as the app loaded it (it is loaded by the time a logger is configured), else resolved from the app. */
export function appWinstonTransport(): unknown {
  for (const [id, module] of Object.entries(requireHere.cache)) {
    const transport = WINSTON_MAIN.test(id) ? (module?.exports as { Transport?: unknown } | undefined)?.Transport : undefined;
    if (transport) return transport;
  }
  return createRequire(appEntry())('winston-transport');
}
