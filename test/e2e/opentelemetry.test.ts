import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../../dist', import.meta.url));

describe('dist/opentelemetry.cjs, the packages the other bundles share', () => {
  it('has every package that another file of dist/ takes from it, and nothing else', () => {
    const wanted = new Set<string>();
    for (const file of readdirSync(DIST, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.cjs') || file === 'opentelemetry.cjs') continue;
      const source = readFileSync(join(DIST, file), 'utf8');
      for (const [, name] of source.matchAll(/opentelemetry\.cjs"\)\.packages\["([^"]+)"\]/g)) wanted.add(name as string);
    }
    const { packages } = createRequire(import.meta.url)(join(DIST, 'opentelemetry.cjs'));
    assert.deepEqual(Object.keys(packages).sort(), [...wanted].sort());
    for (const name of wanted) assert.equal(typeof packages[name], 'object', `${name} is loaded`);
  });
});
