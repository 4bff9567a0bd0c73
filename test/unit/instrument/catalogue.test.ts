import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import {
  appliesTo,
  INSTRUMENTATIONS,
  type InstrumentationEntry,
  METRICS_ONLY_INSTRUMENTATIONS,
  NOISY_INSTRUMENTATIONS,
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
  const failing = (code: string | undefined) => (id: string) => {
    const error = new Error(`Cannot find module '${id}'`) as NodeJS.ErrnoException;
    if (code !== undefined) error.code = code;
    throw error;
  };

  it('applies when one of the modules resolves', () => {
    assert.equal(
      appliesTo(byName('express'), (id) => `/app/node_modules/${id}/index.js`, noLambda),
      true,
    );
  });

  it('does not apply when the modules are not found', () => {
    assert.equal(appliesTo(byName('express'), failing('MODULE_NOT_FOUND'), noLambda), false);
  });

  it('applies to an ESM-only package that has no require export', () => {
    assert.equal(appliesTo(byName('express'), failing('ERR_PACKAGE_PATH_NOT_EXPORTED'), noLambda), true);
  });

  it('does not apply when resolving fails with another error', () => {
    assert.equal(appliesTo(byName('express'), failing(undefined), noLambda), false);
    assert.equal(appliesTo(byName('express'), failing('EACCES'), noLambda), false);
  });

  it('applies when any one of several modules resolves, asking for each only until one does', () => {
    const asked: string[] = [];
    const resolve = (id: string) => {
      asked.push(id);
      if (id !== 'pg-pool') failing('MODULE_NOT_FOUND')(id);
      return id;
    };
    assert.equal(appliesTo(byName('pg'), resolve, noLambda), true);
    assert.deepEqual(asked, ['pg', 'pg-pool']);
  });

  it('asks the resolve function for the module names of the entry', () => {
    const asked: string[] = [];
    appliesTo(
      byName('redis'),
      (id) => {
        asked.push(id);
        failing('MODULE_NOT_FOUND')(id);
      },
      noLambda,
    );
    assert.deepEqual(asked, ['redis', '@redis/client', '@node-redis/client']);
  });

  it('always applies to an entry with no modules, without resolving anything', () => {
    const entry = byName('undici');
    assert.deepEqual(entry.modules, []);
    assert.equal(
      appliesTo(
        entry,
        () => {
          throw new Error('resolve must not be called');
        },
        noLambda,
      ),
      true,
    );
  });

  it('applies to aws-lambda only when both LAMBDA_TASK_ROOT and _HANDLER are set', () => {
    const lambda = byName('aws-lambda');
    const resolve = () => 'resolved';
    assert.equal(appliesTo(lambda, resolve, {}), false);
    assert.equal(appliesTo(lambda, resolve, { LAMBDA_TASK_ROOT: '/var/task' }), false);
    assert.equal(appliesTo(lambda, resolve, { _HANDLER: 'index.handler' }), false);
    assert.equal(appliesTo(lambda, resolve, { LAMBDA_TASK_ROOT: '/var/task', _HANDLER: 'index.handler' }), true);
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
