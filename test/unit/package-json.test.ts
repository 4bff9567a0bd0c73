import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { installedPackageJson, packageJsonsAbove, readPackageJson } from '../../src/package-json.js';

const root = mkdtempSync(join(tmpdir(), 'package-json-'));
after(() => rmSync(root, { recursive: true, force: true }));
const write = (path: string, text: string) => {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
};

describe('readPackageJson', () => {
  it('reads an object', () => {
    write('object/package.json', '{"name":"a","version":"1.0.0"}');
    assert.deepEqual(readPackageJson(join(root, 'object/package.json')), { name: 'a', version: '1.0.0' });
  });

  it('gives nothing for a file that is missing or no JSON, and no fields for JSON that is no object', () => {
    write('broken/package.json', '{"name":');
    write('null/package.json', 'null');
    write('array/package.json', '[1]');
    assert.equal(readPackageJson(join(root, 'missing/package.json')), undefined);
    assert.equal(readPackageJson(join(root, 'broken/package.json')), undefined);
    assert.deepEqual(readPackageJson(join(root, 'null/package.json')), {});
    assert.deepEqual(readPackageJson(join(root, 'array/package.json')), {});
  });
});

describe('packageJsonsAbove', () => {
  it('yields each package.json from the directory up, nearest first, the unreadable ones too', () => {
    write('up/package.json', '{"name":"outer"}');
    write('up/mid/package.json', '{');
    write('up/mid/inner/package.json', '{"type":"module"}');
    mkdirSync(join(root, 'up/mid/inner/src'), { recursive: true });
    const found = [...packageJsonsAbove(join(root, 'up/mid/inner/src'))].filter(({ file }) => file.startsWith(root));
    assert.deepEqual(found, [
      { file: join(root, 'up/mid/inner/package.json'), manifest: { type: 'module' } },
      { file: join(root, 'up/mid/package.json'), manifest: undefined },
      { file: join(root, 'up/package.json'), manifest: { name: 'outer' } },
    ]);
  });
});

describe('installedPackageJson', () => {
  it('finds the package.json named like the package above the file it resolves to', () => {
    write('node_modules/lib/package.json', '{"name":"lib","version":"2.3.4","exports":"./dist/index.js"}');
    write('node_modules/lib/dist/package.json', '{"type":"commonjs"}');
    write('node_modules/lib/dist/index.js', '');
    const resolve = (id: string) => {
      if (id !== 'lib') throw new Error(`cannot resolve ${id}`);
      return join(root, 'node_modules/lib/dist/index.js');
    };
    assert.equal(installedPackageJson('lib', resolve)?.manifest?.version, '2.3.4');
    assert.equal(installedPackageJson('lib', resolve)?.file, join(root, 'node_modules/lib/package.json'));
    assert.equal(installedPackageJson('other', resolve), undefined);
  });
});
