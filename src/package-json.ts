// Every part that reads a package.json (the app's identity, the ES module checks, doctor, the build)
// reads it here: whatever a file holds, the caller gets an object or nothing, never an exception.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A package.json as its author wrote it: each caller checks the fields it uses. */
export type PackageJson = Readonly<Record<string, unknown>>;

export interface FoundPackageJson {
  readonly file: string;
  /** Undefined when the file cannot be read or is no JSON. */
  readonly manifest: PackageJson | undefined;
}

/** Undefined when the file cannot be read or is no JSON; JSON that is no object (`null`, `[]`) has no fields. */
export function readPackageJson(file: string): PackageJson | undefined {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  return typeof manifest === 'object' && manifest !== null && !Array.isArray(manifest) ? (manifest as PackageJson) : {};
}

/** Each package.json from the directory `start` up to the filesystem root, nearest first. */
export function* packageJsonsAbove(start: string): Generator<FoundPackageJson> {
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) yield { file, manifest: readPackageJson(file) };
    if (dirname(dir) === dir) return;
  }
}

/**
 * The package.json of the package `name` as `resolve` finds it: from the file it resolves to, upwards,
 * since most packages do not export theirs. Undefined when it is not installed.
 */
export function installedPackageJson(name: string, resolve: (id: string) => string): FoundPackageJson | undefined {
  let entry: string;
  try {
    entry = resolve(name);
  } catch {
    return undefined;
  }
  for (const found of packageJsonsAbove(dirname(entry))) if (found.manifest?.name === name) return found;
  return undefined;
}
