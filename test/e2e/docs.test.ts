import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { INSTRUMENTATIONS } from '../../src/instrument/catalogue.js';
import { ROOT } from '../helpers/app.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const guide = readFileSync(join(ROOT, 'docs/OPENTELEMETRY_INTEGRATION.md'), 'utf8');
// The config module is every file of src/config: parse.ts reads the variables, secrets.ts some of them again.
const source = readdirSync(join(ROOT, 'src/config'))
  .filter((file) => file.endsWith('.ts'))
  .map((file) => readFileSync(join(ROOT, 'src/config', file), 'utf8'))
  .join('\n');
const read = new Set(source.match(/(?<=')(OTEL_[A-Z_]+|RUST_ENV|NODE_ENV)(?=')/g));
const tableRows = (text: string) => new Set(text.match(/(?<=^\| `)[A-Z_]+(?=` \|)/gm));

it('the configuration reference lists exactly the variables the config module reads', () => {
  assert.deepEqual([...tableRows(guide)].sort(), [...read].sort());
});

it('every variable in the README table is one the config module reads', () => {
  const rows = tableRows(readme);
  assert.ok(rows.size >= 5);
  for (const name of rows) assert.ok(read.has(name), `${name} is not read by the config module`);
});

it('the reference names every instrumentation by its short name', () => {
  const list = guide.slice(guide.indexOf('Instrumentation short names:'));
  const named = list.slice(0, list.indexOf('\n\n')).match(/(?<=`)[a-z0-9.-]+(?=`)/g);
  assert.deepEqual(
    named,
    INSTRUMENTATIONS.map((entry) => entry.name),
  );
});

// The examples are type-checked by `npm run lint` and run under the preload by test/system/examples.test.ts
// and test/e2e/demo.test.ts, so a sample cut from one of them cannot rot.
const examples = readdirSync(join(ROOT, 'examples'), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => readFileSync(join(ROOT, 'examples', file), 'utf8'));
const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((file) => `docs/${file}`)].filter((file) => file.endsWith('.md'));

for (const doc of docs) {
  it(`every TypeScript sample in ${doc} is cut from a file in examples/`, () => {
    const samples = readFileSync(join(ROOT, doc), 'utf8').match(/(?<=```ts\n)[\s\S]*?(?=```)/g) ?? [];
    for (const sample of samples)
      assert.ok(
        examples.some((example) => example.includes(sample)),
        `not in examples/:\n${sample}`,
      );
  });
}
