// ES modules are not patched by require hooks: the import-in-the-middle loader wraps them, limited
// to the modules our instrumentations patch so that the app's other imports stay untouched. It is the
// installed package, never bundled: the hook and the instrumentations must share its one copy.
import { pathToFileURL } from 'node:url';

export function registerEsmHook(modules: readonly string[]): void {
  const include = [...new Set(modules)];
  const module = require('node:module') as typeof import('node:module') & { registerHooks?: unknown };
  // Where Node can run the loader in-thread it costs ~20 ms to set up; the off-thread loader of older
  // versions starts a worker (~60 ms on Node 20).
  if (typeof module.registerHooks === 'function') {
    const inThread = require('import-in-the-middle/register-hooks.mjs');
    if (inThread.supportsSyncHooks()) {
      inThread.register({ include });
      return;
    }
  }
  const hook = pathToFileURL(require.resolve('import-in-the-middle/hook.mjs'));
  module.register(hook, pathToFileURL(__filename), { data: { include } });
}
