import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLauncher } from '../../../src/preload/launcher.js';

const root = mkdtempSync(join(tmpdir(), 'rustok-launcher-'));
after(() => rmSync(root, { recursive: true, force: true }));

function file(path: string): string {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, '');
  return full;
}

describe('isLauncher', () => {
  for (const path of [
    'usr/lib/node_modules/npm/bin/npm-cli.js',
    'usr/lib/node_modules/npm/bin/npx-cli.js',
    'usr/lib/node_modules/corepack/dist/pnpm.js',
    'app/node_modules/pnpm/bin/pnpm.cjs',
    'app/.yarn/releases/yarn-4.5.0.cjs',
    'app/node_modules/tsx/dist/cli.mjs',
    'app/node_modules/nodemon/bin/nodemon.js',
    'app/node_modules/cross-env/src/bin/cross-env.js',
    'app/node_modules/@nestjs/cli/bin/nest.js',
    'app/node_modules/pm2/bin/pm2-runtime',
    'app/node_modules/pm2/lib/Daemon.js',
    'app/node_modules/ts-node-dev/lib/bin.js',
    'app/node_modules/@rustok/otel/dist/cli.cjs',
  ]) {
    it(`turns away ${path}`, () => assert.equal(isLauncher(file(path)), true));
  }

  for (const path of [
    'app/dist/server.js',
    'app/node_modules/next/dist/bin/next',
    'app/node_modules/pm2/lib/ProcessContainerFork.js',
    'app/node_modules/ts-node-dev/lib/wrap.js',
    'app/src/npm-cli.js',
    'app/node_modules/@acme/orders-service/server.js',
  ]) {
    it(`traces ${path}: it is the app, or runs the app in this process`, () => assert.equal(isLauncher(file(path)), false));
  }

  it('follows a bin symlink to the script it stands for (npm installs /usr/bin/npm as one)', () => {
    const target = file('lib/node_modules/npm/bin/npm-cli.js');
    mkdirSync(join(root, 'bin'), { recursive: true });
    symlinkSync(target, join(root, 'bin/npm'));
    assert.equal(isLauncher(join(root, 'bin/npm')), true);
  });

  it('judges a path that does not exist (or `node -e`) by what it says', () => {
    assert.equal(isLauncher(undefined), false);
    assert.equal(isLauncher('/nowhere/node_modules/npm/bin/npm-cli.js'), true);
    assert.equal(isLauncher('/nowhere/app.js'), false);
  });
});
