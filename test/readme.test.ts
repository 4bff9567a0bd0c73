import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { INSTRUMENTATIONS } from '../src/instrumentations.js';
import { ROOT } from './helpers/app.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

it('the README configuration table lists exactly the variables the config module reads', () => {
  const source = readFileSync(join(ROOT, 'src/config.ts'), 'utf8');
  const read = new Set(source.match(/(?<=')(OTEL_[A-Z_]+|RUST_ENV|NODE_ENV)(?=')/g));
  const documented = new Set(readme.match(/(?<=^\| `)[A-Z_]+(?=` \|)/gm));
  assert.deepEqual([...documented].sort(), [...read].sort());
});

it('the README names every instrumentation by its short name', () => {
  const list = readme.slice(readme.indexOf('Instrumentation short names:'));
  const named = list.slice(0, list.indexOf('\n\n')).match(/(?<=`)[a-z0-9.-]+(?=`)/g);
  assert.deepEqual(
    named,
    INSTRUMENTATIONS.map((entry) => entry.name),
  );
});

it('every TypeScript sample in the README is taken from a file that the tests run', () => {
  const samples = readme.match(/(?<=```ts\n)[\s\S]*?(?=```)/g) ?? [];
  assert.ok(samples.length > 0);
  const demo = readFileSync(join(ROOT, 'examples/demo/service.ts'), 'utf8');
  for (const sample of samples) assert.ok(demo.includes(sample), `not in examples/demo/service.ts:\n${sample}`);
});
