// Injected into the CommonJS bundles (tsup.config.ts) to stand for `import.meta.url`: the file's URL as
// Node gives it to an ES module, with `#`, `%`, `?` and spaces in the path escaped. tsup's own shim
// pastes the raw path after `file:`, and an app installed under `C#/` or `100%/` would lose tracing.
import { pathToFileURL } from 'node:url';

export const importMetaUrl = pathToFileURL(__filename).href;
