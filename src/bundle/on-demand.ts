// The instrumentation and resource-detector packages are a file each in the build (dist/packages/, see
// tsup.config.ts), read only when the app can use one; run from source, they are the installed packages.
import { createRequire } from 'node:module';
import { build } from './build-info.js';

const requireHere = createRequire(import.meta.url);

/** The exports of `@opentelemetry/<name>`, loaded now. */
export function loadOnDemand(name: `@opentelemetry/${string}`): Record<string, unknown> {
  return requireHere(build ? `./packages/${name.slice('@opentelemetry/'.length)}.cjs` : name);
}
