// ES modules are not patched by require hooks: the import-in-the-middle loader wraps them, limited
// to the modules our instrumentations patch so that the app's other imports stay untouched.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export function registerEsmHook(modules: readonly string[]): void {
  // The hook must be the import-in-the-middle copy that the instrumentations register with.
  const fromInstrumentation = createRequire(require.resolve('@opentelemetry/instrumentation'));
  const hook = pathToFileURL(fromInstrumentation.resolve('import-in-the-middle/hook.mjs'));
  const { register } = require('node:module') as typeof import('node:module');
  register(hook, pathToFileURL(__filename), { data: { include: [...new Set(modules)] } });
}
