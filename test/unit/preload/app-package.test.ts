import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { appEntry, findAppPackage, serviceIdentity, serviceIdentitySources } from '../../../src/preload/app-package.js';

const root = mkdtempSync(join(tmpdir(), 'rustok-app-package-'));
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
    assert.deepEqual(findAppPackage(join(dir, 'src/main.js'), dir, {}), {
      name: 'shop',
      version: '1.2.3',
      dependencies: ['pg', 'tsx'],
      source: join(dir, 'package.json'),
    });
  });

  it('passes over a nameless package.json that only sets the module format', () => {
    const dir = tree({
      'package.json': { name: 'shop', version: '1.2.3', dependencies: { express: '5' } },
      'dist/esm/package.json': { type: 'module' },
      'dist/esm/main.js': '',
    });
    assert.deepEqual(findAppPackage(join(dir, 'dist/esm/main.js'), dir, {}), {
      name: 'shop',
      version: '1.2.3',
      dependencies: ['express'],
      source: join(dir, 'package.json'),
    });
  });

  it('gives up quietly on a package.json that is not JSON', () => {
    const dir = tree({ 'package.json': '{ not json', 'main.js': '' });
    assert.deepEqual(findAppPackage(join(dir, 'main.js'), dir, {}), { dependencies: [] });
  });

  // A framework's command (next start, fastify start) is the entry, and its package.json is the framework's.
  const cliApp = () =>
    tree({
      'package.json': { name: 'shop', version: '1.2.3', dependencies: { next: '16' } },
      'node_modules/next/package.json': { name: 'next', version: '16.0.0', dependencies: { react: '19' } },
      'node_modules/next/dist/bin/next': '',
    });

  it('takes an entry inside node_modules for a tool, and names the app from the working directory', () => {
    const dir = cliApp();
    assert.deepEqual(findAppPackage(join(dir, 'node_modules/next/dist/bin/next'), dir, {}), {
      name: 'shop',
      version: '1.2.3',
      dependencies: ['next'],
      source: join(dir, 'package.json'),
    });
  });

  it('names a tool-started app after the package npm started, as in a workspace', () => {
    const dir = cliApp();
    const env = { npm_package_name: '@shop/api', npm_package_version: '0.4.0' };
    assert.deepEqual(findAppPackage(join(dir, 'node_modules/next/dist/bin/next'), dir, env), {
      name: '@shop/api',
      version: '0.4.0',
      dependencies: ['next'],
      source: 'npm_package_name',
    });
  });

  it('prefers the package.json npm started to npm_package_name, which npx in a workspace member sets to the root', () => {
    const dir = tree({
      'package.json': { name: 'mono-root', version: '0.0.0', workspaces: ['apps/*'] },
      'apps/web/package.json': { name: 'web', version: '2.0.0', dependencies: { 'http-server': '14' } },
      'node_modules/http-server/package.json': { name: 'http-server', version: '14.1.1' },
      'node_modules/http-server/bin/http-server': '',
    });
    const env = { npm_package_json: join(dir, 'apps/web/package.json'), npm_package_name: 'mono-root', npm_package_version: '0.0.0' };
    assert.deepEqual(findAppPackage(join(dir, 'node_modules/http-server/bin/http-server'), join(dir, 'apps/web'), env), {
      name: 'web',
      version: '2.0.0',
      dependencies: ['http-server'],
      source: join(dir, 'apps/web/package.json'),
    });
  });

  it('names a service deployed as a package after itself when nothing around it has a name', () => {
    const dir = tree({
      'package.json': { private: true },
      'node_modules/@acme/orders-service/package.json': { name: '@acme/orders-service', version: '4.2.0' },
      'node_modules/@acme/orders-service/server.js': '',
    });
    const found = findAppPackage(join(dir, 'node_modules/@acme/orders-service/server.js'), dir, {});
    assert.equal(found.name, '@acme/orders-service');
    assert.equal(found.version, '4.2.0');
  });

  it("does not name an app after a tool whose command it was started with, even when the app's package.json has no name", () => {
    const dir = tree({
      'package.json': { private: true },
      'node_modules/fastify-cli/package.json': { name: 'fastify-cli', version: '7.4.1', bin: { fastify: './cli.js' } },
      'node_modules/fastify-cli/cli.js': '',
    });
    assert.equal(findAppPackage(join(dir, 'node_modules/fastify-cli/cli.js'), dir, {}).name, undefined);
  });

  it("keeps the entry's own package when it is not in node_modules, whatever npm says", () => {
    const dir = tree({ 'package.json': { name: 'shop', version: '1.2.3' }, 'main.js': '' });
    assert.equal(findAppPackage(join(dir, 'main.js'), '/', { npm_package_name: 'root-of-monorepo' }).name, 'shop');
  });
});

describe('appEntry', () => {
  it('is the script Node was given, made absolute against the working directory', () => {
    assert.equal(appEntry(['node', 'dist/main.js'], '/srv/app'), join('/srv/app', 'dist/main.js'));
    assert.equal(appEntry(['node', '/srv/app/main.js'], '/elsewhere'), '/srv/app/main.js');
  });

  it("is the file Node runs for a folder (`node .`): its package.json's main, else its index.js", () => {
    const withMain = tree({ 'package.json': { name: 'shop', main: 'dist/server.js' }, 'dist/server.js': '' });
    assert.equal(appEntry(['node', '.'], withMain), join(withMain, 'dist/server.js'));
    assert.equal(appEntry(['node', withMain], '/elsewhere'), join(withMain, 'dist/server.js'));
    const withIndex = tree({ 'index.js': '' });
    assert.equal(appEntry(['node', withIndex], '/elsewhere'), join(withIndex, 'index.js'));
    const broken = tree({ 'package.json': { name: 'shop', main: 'missing.js' } });
    assert.equal(appEntry(['node', broken], '/elsewhere'), join(broken, 'index.js'));
  });
});

describe('serviceIdentity', () => {
  it('takes the variables first, then the app package, then unknown_service:node', () => {
    const app = { name: 'shop', version: '1.2.3', dependencies: [] };
    assert.deepEqual(serviceIdentity({ serviceName: 'orders', serviceVersion: undefined }, app), { name: 'orders', version: '1.2.3' });
    assert.deepEqual(serviceIdentity({ serviceName: undefined, serviceVersion: '9' }, app), { name: 'shop', version: '9' });
    assert.deepEqual(serviceIdentity({ serviceName: undefined, serviceVersion: undefined }, { dependencies: [] }), {
      name: 'unknown_service:node',
    });
  });
});

describe('serviceIdentitySources', () => {
  const sources = { serviceName: 'OTEL_SERVICE_NAME', serviceVersion: 'OTEL_SERVICE_VERSION' };
  const unset = { serviceName: undefined, serviceVersion: undefined };

  it('names the variable when one is set', () => {
    const app = { name: 'shop', version: '1', dependencies: [], source: '/srv/package.json' };
    assert.deepEqual(serviceIdentitySources({ serviceName: 'orders', serviceVersion: '2' }, app, sources), {
      name: 'OTEL_SERVICE_NAME',
      version: 'OTEL_SERVICE_VERSION',
    });
  });

  it("names the app's package.json, or npm's variables for a name npm gave", () => {
    const file = { name: 'shop', version: '1', dependencies: [], source: '/srv/package.json' };
    assert.deepEqual(serviceIdentitySources(unset, file, sources), { name: '/srv/package.json', version: '/srv/package.json' });
    const npm = { name: 'shop', version: '1', dependencies: [], source: 'npm_package_name' };
    assert.deepEqual(serviceIdentitySources(unset, npm, sources), { name: 'npm_package_name', version: 'npm_package_version' });
  });

  it('says default where nothing gave a value', () => {
    assert.deepEqual(serviceIdentitySources(unset, { dependencies: [] }, sources), { name: 'default', version: 'default' });
  });
});
