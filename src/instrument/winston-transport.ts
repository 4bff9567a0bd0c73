// The winston instrumentation sends records through @opentelemetry/winston-transport, a transport
// class that extends winston's own base class (the `winston-transport` package). The build bundles
// the former and points its `require('winston-transport')` here (tsup.config.ts): the base class is
// the app's, the one its winston checks transports against, and the package carries no copy of it.
import { createRequire } from 'node:module';
import { appEntry } from '../preload/app-package.js';

const requireHere = createRequire(import.meta.url);
const WINSTON_MAIN = /[\\/]winston[\\/]lib[\\/]winston\.js$/;

/**
 * winston 3's `Transport` as the app loaded it (it is loaded by the time a logger is configured), else
 * resolved from the app. Only winston 3 sends records (the instrumentation patches no other), and a
 * winston 2 a dependency loaded first has a `Transport` of another kind, which winston 3 cannot use.
 */
export function appWinstonTransport(): unknown {
  for (const [id, module] of Object.entries(requireHere.cache)) {
    if (!WINSTON_MAIN.test(id)) continue;
    const { Transport, version } = (module?.exports ?? {}) as { Transport?: unknown; version?: unknown };
    if (Transport && typeof version === 'string' && version.startsWith('3.')) return Transport;
  }
  return createRequire(appEntry())('winston-transport');
}
