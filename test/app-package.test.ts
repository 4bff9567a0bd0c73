import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findAppPackage } from '../src/resource.js';

const root = mkdtempSync(join(tmpdir(), 'rustok-resource-'));
after(() => rmSync(root, { recursive: true, force: true }));

function tree(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(root, 'app-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

describe('findAppPackage', () => {
  it('reads name, version and every kind of dependency from the nearest package.json', () => {
    const dir = tree({
      'package.json': { name: 'shop', version: '1.2.3', dependencies: { pg: '8' }, devDependencies: { tsx: '4' } },
      'src/main.js': '',
    });
    assert.deepEqual(findAppPackage(join(dir, 'src/main.js')), { name: 'shop', version: '1.2.3', dependencies: ['pg', 'tsx'] });
  });

  it('passes over a nameless package.json that only sets the module format', () => {
    const dir = tree({
      'package.json': { name: 'shop', version: '1.2.3', dependencies: { express: '5' } },
      'dist/esm/package.json': { type: 'module' },
      'dist/esm/main.js': '',
    });
    assert.deepEqual(findAppPackage(join(dir, 'dist/esm/main.js')), { name: 'shop', version: '1.2.3', dependencies: ['express'] });
  });

  it('gives up quietly on a package.json that is not JSON', () => {
    const dir = tree({ 'package.json': '{ not json', 'main.js': '' });
    assert.deepEqual(findAppPackage(join(dir, 'main.js')), { dependencies: [] });
  });
});
