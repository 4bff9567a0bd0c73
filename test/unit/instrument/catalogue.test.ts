import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import {
  appliesTo,
  INSTRUMENTATIONS,
  type InstrumentationEntry,
  METRICS_ONLY_INSTRUMENTATIONS,
  NOISY_INSTRUMENTATIONS,
  packageFinder,
  packageOf,
  REPLACING_INSTRUMENTATIONS,
} from '../../../src/instrument/catalogue.js';

const PREFIX = '@opentelemetry/instrumentation-';
const autoMain = createRequire(import.meta.url).resolve('@opentelemetry/auto-instrumentations-node');
const autoRequire = createRequire(autoMain);
const sorted = (values: Iterable<string>) => [...values].sort();
const byName = (name: string): InstrumentationEntry => {
  const found = INSTRUMENTATIONS.find((entry) => entry.name === name);
  assert.ok(found, `no entry named ${name}`);
  return found;
};

/** The instrumentation packages auto-instrumentations-node depends on, by short name. */
function shippedNames(): string[] {
  // build/src/index.js → the package root; its package.json is not in "exports".
  const manifest = JSON.parse(readFileSync(join(dirname(autoMain), '../../package.json'), 'utf8')) as {
    name: string;
    dependencies: Record<string, string>;
  };
  assert.equal(manifest.name, '@opentelemetry/auto-instrumentations-node');
  return Object.keys(manifest.dependencies)
    .filter((name) => name.startsWith(PREFIX))
    .map((name) => name.slice(PREFIX.length));
}

describe('the INSTRUMENTATIONS table against @opentelemetry/auto-instrumentations-node', () => {
  // getNodeAutoInstrumentations reads these from process.env and they would change what it returns.
  const interfering = ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'OTEL_NODE_DISABLED_INSTRUMENTATIONS', 'LAMBDA_TASK_ROOT', '_HANDLER'];
  const saved = new Map<string, string | undefined>();
  let instances: Instrumentation[] = [];

  before(() => {
    for (const name of interfering) {
      saved.set(name, process.env[name]);
      delete process.env[name];
    }
    // Every instrumentation it could know of, enabled by name, so the default exclusions do not hide any.
    const names = new Set([...shippedNames(), ...INSTRUMENTATIONS.map((entry) => entry.name), ...METRICS_ONLY_INSTRUMENTATIONS]);
    const config = Object.fromEntries([...names].map((name) => [`${PREFIX}${name}`, { enabled: true }]));
    instances = getNodeAutoInstrumentations(config as Parameters<typeof getNodeAutoInstrumentations>[0]);
  });

  after(() => {
    for (const instance of instances) instance.disable();
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('lists every tracing instrumentation it ships, and together with the metrics-only ones nothing else', () => {
    const shipped = instances.map((instance) => instance.instrumentationName);
    for (const name of shipped) assert.ok(name.startsWith(PREFIX), `${name} has the usual prefix`);
    assert.deepEqual(
      sorted(shipped.map((name) => name.slice(PREFIX.length))),
      sorted([...INSTRUMENTATIONS.map((entry) => entry.name), ...METRICS_ONLY_INSTRUMENTATIONS]),
    );
  });

  it('covers every instrumentation package auto-instrumentations-node depends on', () => {
    assert.deepEqual(sorted(shippedNames()), sorted([...INSTRUMENTATIONS.map((entry) => entry.name), ...METRICS_ONLY_INSTRUMENTATIONS]));
  });

  it('names, for each entry, exactly the modules its instrumentation patches', () => {
    for (const entry of INSTRUMENTATIONS) {
      const instance = instances.find((candidate) => candidate.instrumentationName === packageOf(entry));
      assert.ok(instance, `auto-instrumentations-node created ${packageOf(entry)}`);
      const definitions = (instance as unknown as { getModuleDefinitions(): { name: string }[] }).getModuleDefinitions();
      assert.deepEqual(
        sorted(new Set(definitions.map((definition) => definition.name))),
        sorted(new Set(entry.modules)),
        `modules of ${entry.name}`,
      );
    }
  });

  it('names, for each entry, a constructor its package exports', () => {
    for (const entry of INSTRUMENTATIONS) {
      const exported: unknown = autoRequire(packageOf(entry))[entry.exportName];
      assert.equal(typeof exported, 'function', `${packageOf(entry)} exports ${entry.exportName}`);
      const instance = instances.find((candidate) => candidate.instrumentationName === packageOf(entry));
      assert.ok(
        instance instanceof (exported as new (...args: never[]) => unknown),
        `${entry.exportName} is the class auto-instrumentations-node uses`,
      );
    }
  });
});

describe('the INSTRUMENTATIONS table itself', () => {
  it('has unique names, in alphabetical order', () => {
    const names = INSTRUMENTATIONS.map((entry) => entry.name);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(names, sorted(names));
  });

  it('lists the noisy instrumentations as table entries and the metrics-only ones outside it', () => {
    const names = INSTRUMENTATIONS.map((entry) => entry.name);
    for (const name of NOISY_INSTRUMENTATIONS) assert.ok(names.includes(name), `${name} is in the table`);
    for (const name of METRICS_ONLY_INSTRUMENTATIONS) assert.ok(!names.includes(name), `${name} is not in the table`);
  });

  it('maps a short name to its @opentelemetry/instrumentation- package', () => {
    assert.equal(packageOf(byName('socket.io')), '@opentelemetry/instrumentation-socket.io');
  });
});

describe('appliesTo', () => {
  const noLambda: NodeJS.ProcessEnv = {};
  const installed =
    (...ids: string[]) =>
    (id: string) =>
      ids.includes(id);

  it('applies when one of the modules is installed', () => {
    assert.equal(appliesTo(byName('express'), installed('express'), noLambda), true);
  });

  it('does not apply when none is', () => {
    assert.equal(appliesTo(byName('express'), installed('koa'), noLambda), false);
  });

  it('applies when any one of several modules is installed, asking for each only until one is', () => {
    const asked: string[] = [];
    const isInstalled = (id: string) => {
      asked.push(id);
      return id === 'pg-pool';
    };
    assert.equal(appliesTo(byName('pg'), isInstalled, noLambda), true);
    assert.deepEqual(asked, ['pg', 'pg-pool']);
    asked.length = 0;
    appliesTo(byName('redis'), (id) => asked.push(id) < 0, noLambda);
    assert.deepEqual(asked, ['redis', '@redis/client', '@node-redis/client']);
  });

  it('always applies to an entry with no modules, without asking', () => {
    const entry = byName('undici');
    assert.deepEqual(entry.modules, []);
    const never = () => assert.fail('nothing is asked for');
    assert.equal(appliesTo(entry, never, noLambda), true);
  });

  it('applies to aws-lambda only when both LAMBDA_TASK_ROOT and _HANDLER are set', () => {
    const lambda = byName('aws-lambda');
    const all = () => true;
    assert.equal(appliesTo(lambda, all, {}), false);
    assert.equal(appliesTo(lambda, all, { LAMBDA_TASK_ROOT: '/var/task' }), false);
    assert.equal(appliesTo(lambda, all, { _HANDLER: 'index.handler' }), false);
    assert.equal(appliesTo(lambda, all, { LAMBDA_TASK_ROOT: '/var/task', _HANDLER: 'index.handler' }), true);
  });
});

describe('packageFinder', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'rustok-otel-finder-'));
    const write = (file: string, text: string) => {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), text);
    };
    write('node_modules/pg/package.json', '{"main":"index.js"}');
    write('node_modules/@redis/client/package.json', '{}');
    write('node_modules/esm-only/package.json', '{"exports":{"import":"./index.mjs"}}');
    write('node_modules/no-manifest/index.js', '');
    write('service/node_modules/express/package.json', '{}');
    write('service/src/main.js', '');
    write('elsewhere/node_modules/koa/package.json', '{}');
    write('unreadable/node_modules', 'a file where a folder would be');
    write('unreadable/main.js', '');
    symlinkSync(join(root, 'elsewhere/node_modules/koa'), join(root, 'service/node_modules/koa'), 'dir');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('finds what require would find from the app: its own node_modules, those up the tree, scoped names, links', () => {
    const isInstalled = packageFinder(join(root, 'service/src/main.js'));
    for (const id of ['express', 'pg', '@redis/client', 'koa', 'esm-only']) assert.equal(isInstalled(id), true, id);
  });

  it('does not find what is in no folder require looks in, or a folder that holds no package', () => {
    const isInstalled = packageFinder(join(root, 'service/src/main.js'));
    for (const id of ['mysql2', '@redis/other', 'redis', 'no-manifest']) assert.equal(isInstalled(id), false, id);
    assert.equal(packageFinder(join(root, 'elsewhere/main.js'))('express'), false);
  });

  it('looks past a folder it cannot read, as require does', () => {
    const isInstalled = packageFinder(join(root, 'unreadable/main.js'));
    assert.equal(isInstalled('pg'), true);
    assert.equal(isInstalled('express'), false);
  });

  it("finds Node's own modules, with or without a package of their name", () => {
    const isInstalled = packageFinder(join(root, 'service/src/main.js'));
    for (const id of ['http', 'https', 'dns/promises', 'fs']) assert.equal(isInstalled(id), true, id);
  });

  it('agrees with require.resolve on every module of the table, from this repository', () => {
    const isInstalled = packageFinder(fileURLToPath(import.meta.url));
    const resolve = createRequire(import.meta.url).resolve;
    for (const id of INSTRUMENTATIONS.flatMap((entry) => entry.modules)) {
      let resolvable: boolean;
      try {
        resolve(id);
        resolvable = true;
      } catch (error) {
        resolvable = (error as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
      }
      assert.equal(isInstalled(id), resolvable, id);
    }
  });
});

describe('REPLACING_INSTRUMENTATIONS', () => {
  it('names instrumentations of the table whose patch returns a module other than the one it is given', () => {
    for (const name of REPLACING_INSTRUMENTATIONS) {
      const [definition] = (
        new (autoRequire(packageOf(byName(name)))[byName(name).exportName])() as Instrumentation & {
          getModuleDefinitions(): { patch?: (exports: unknown, version?: string) => unknown }[];
        }
      ).getModuleDefinitions();
      const original = Object.assign(() => ({}), { prototype: { _emit() {} } });
      assert.notEqual(definition?.patch?.(original, '9.0.0'), original, `${name} replaces its module`);
    }
  });
});
