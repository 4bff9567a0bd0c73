// Keeps src/bundle/semantic-conventions.ts to the names the other bundles read. dist/opentelemetry.cjs
// carries @opentelemetry/semantic-conventions for every bundle that uses it; whole, its thousands of
// names were ~11 ms of every traced process's start. The bundles read it as `semantic_conventions_1.NAME`
// (the instrumentations' CommonJS builds) or `import_semantic_conventions.NAME` (esbuild's imports):
// a name missing from the list would be `undefined` there, an attribute without its key, so the
// build fails instead, and `--write` brings the list up to date.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIST = join(ROOT, 'src/bundle/semantic-conventions.ts');
/** How a bundle reaches the shared copy (tsup.config.ts, splitOpenTelemetry). */
const SHARED_COPY = '.packages["@opentelemetry/semantic-conventions"]';

/**
 * The names one bundle reads from the shared semantic conventions, and the places where the module
 * itself goes somewhere (passed on, spread, indexed): its names could not be known, and the list
 * could not be trusted.
 */
export function namesRead(bundle: string): { names: string[]; escapes: string[] } {
  const names = new Set<string>();
  const escapes: string[] = [];
  // Any name esbuild or a CommonJS build binds it to (`semconv`, `import_semantic_conventions`, …);
  // a use that binds none (destructured, passed on) is an escape.
  const bindings = [...bundle.matchAll(/\b(\w+) = (?:__toESM\()?require_semantic_conventions\d*\(\)/g)];
  const uses = bundle.match(/\brequire_semantic_conventions\d*\(\)/g)?.length ?? 0;
  if (uses > bindings.length) escapes.push(`${uses - bindings.length} of ${uses} uses bind no name`);
  const variables = new Set(bindings.map(([, name]) => name as string));
  for (const variable of variables) {
    for (const match of bundle.matchAll(new RegExp(`\\b${variable}\\b(\\.\\w+)?`, 'g'))) {
      const after = bundle.slice((match.index ?? 0) + match[0].length, (match.index ?? 0) + match[0].length + 3);
      if (match[1]) names.add(match[1].slice(1));
      else if (!after.startsWith(' = ')) escapes.push(bundle.slice(match.index, (match.index ?? 0) + 60).split('\n')[0] ?? '');
    }
  }
  return { names: [...names].sort(), escapes };
}

/** The list's names, as src/bundle/semantic-conventions.ts exports them. */
export function listed(source: string): string[] {
  const body = source.match(/export \{([^}]*)\} from '@opentelemetry\/semantic-conventions'/)?.[1] ?? '';
  return body
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .sort();
}

function render(names: readonly string[]): string {
  return `// The semantic conventions dist/opentelemetry.cjs shares: the names the instrumentations and the
// preload read, and no more. Written by \`node --import tsx scripts/semantic-conventions.ts --write\`;
// the build checks it (see that script).
export {\n${names.map((name) => `  ${name},`).join('\n')}\n} from '@opentelemetry/semantic-conventions';\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dist = join(ROOT, 'dist');
  const read = new Set<string>();
  const escapes: string[] = [];
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.cjs')) continue;
    const bundle = readFileSync(join(dist, file), 'utf8');
    if (!bundle.includes(SHARED_COPY)) continue;
    const found = namesRead(bundle);
    for (const name of found.names) read.add(name);
    escapes.push(...found.escapes.map((where) => `${file}: ${where}`));
  }
  if (escapes.length > 0) {
    console.error(`semantic-conventions: a bundle uses the module other than by its names:\n${escapes.join('\n')}`);
    process.exit(1);
  }
  const wanted = [...read].sort();
  if (process.argv.includes('--write')) {
    writeFileSync(LIST, render(wanted));
  } else {
    const have = listed(readFileSync(LIST, 'utf8'));
    const missing = wanted.filter((name) => !have.includes(name));
    const unused = have.filter((name) => !wanted.includes(name));
    if (missing.length > 0 || unused.length > 0) {
      console.error(
        `semantic-conventions: src/bundle/semantic-conventions.ts is not what the bundles read (missing: ${missing.join(', ') || 'none'}; unused: ${unused.join(', ') || 'none'}). Run \`node --import tsx scripts/semantic-conventions.ts --write\` and build again.`,
      );
      process.exit(1);
    }
  }
}
