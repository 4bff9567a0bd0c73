import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { importsEsModuleCode } from '../../src/instrument/module-hooks.js';
import { startApp } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';

const fixture = useFixture();

const ofService = (name: string) => fixture.receiver.spans.filter((span) => span.resource['service.name'] === name);

describe('ES module apps', () => {
  for (const preload of ['import', 'require'] as const) {
    it(`get Express route spans in an ES module app preloaded with ${preload}`, async () => {
      const service = `esm-express-${preload}`;
      const app = startApp('express.mjs', { receiver: fixture.receiver, preload, env: { OTEL_SERVICE_NAME: service } });
      assert.deepEqual(JSON.parse((await app.get('/users/7')).body), { id: '7' });
      await fixture.receiver.waitFor(() => ofService(service).some((span) => span.name === 'users.load'));
      await fixture.receiver.waitFor(() => ofService(service).some((span) => span.attributes['express.type'] === 'request_handler'));
      // The server span ends last, and may come in a later batch.
      await fixture.receiver.waitFor(() => ofService(service).some((span) => span.kind === 2));
      const spans = ofService(service);
      const server = spans.find((span) => span.kind === 2);
      assert.equal(server?.attributes['http.route'], '/users/:id');
      const handler = spans.find((span) => span.attributes['express.type'] === 'request_handler');
      assert.equal(handler?.attributes['express.name'], '/users/:id');
      assert.ok(spans.every((span) => span.traceId === server?.traceId));
      assert.match(app.stderr(), /^@rustok\/otel: tracing [^\n]+\n$/, 'one start-up line and nothing else on stderr');
    });
  }

  it('traces a named import of node:http that Express had already loaded through require', async () => {
    const service = 'esm-upstream';
    const app = startApp('express.mjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: service, TARGET_URL: fixture.target.url },
    });
    assert.equal((await app.get('/upstream')).status, 200);
    await fixture.receiver.waitFor(() => ofService(service).some((span) => span.kind === 3));
    await fixture.receiver.waitFor(() => ofService(service).some((span) => span.kind === 2));
    const server = ofService(service).find((span) => span.kind === 2);
    const client = ofService(service).find((span) => span.kind === 3);
    assert.equal(server?.attributes['http.route'], '/upstream');
    assert.equal(client?.traceId, server?.traceId);
    assert.equal(new URL(String(client?.attributes['url.full'])).pathname, '/upstream');
  });

  it('get Express route spans in a CommonJS app that loads Express with import()', async () => {
    const service = 'cjs-dynamic-import';
    const app = startApp('dynamic-import.cjs', { receiver: fixture.receiver, env: { OTEL_SERVICE_NAME: service } });
    assert.deepEqual(JSON.parse((await app.get('/users/7')).body), { id: '7' });
    await fixture.receiver.waitFor(() => ofService(service).some((span) => span.kind === 2));
    assert.equal(ofService(service).find((span) => span.kind === 2)?.attributes['http.route'], '/users/:id');
  });

  for (const script of ['logger.mjs', 'logger.cjs']) {
    it(`puts the trace on the lines of pino in ${script} (its instrumentation replaces the module)`, async () => {
      const service = `pino-${script}`;
      const app = startApp(script, { receiver: fixture.receiver, env: { OTEL_SERVICE_NAME: service } });
      assert.equal((await app.get('/')).status, 200);
      await fixture.receiver.waitFor(() => ofService(service).some((span) => span.kind === 2));
      const server = ofService(service).find((span) => span.kind === 2);
      const line = app
        .stdout()
        .split('\n')
        .filter((text) => text.startsWith('{'))
        .map((text) => JSON.parse(text) as { msg?: string; trace_id?: string })
        .find((entry) => entry.msg === 'handling');
      assert.equal(line?.trace_id, server?.traceId, app.stdout());
      assert.match(app.stderr(), /^@rustok\/otel: tracing [^\n]+\n$/, 'one start-up line and nothing else on stderr');
    });
  }

  it('traces named imports from node:http in a short ES module script', async () => {
    const app = startApp('script.mjs', {
      receiver: fixture.receiver,
      env: { OTEL_SERVICE_NAME: 'esm-script', TARGET_URL: fixture.target.url },
    });
    assert.deepEqual(await app.exited, { code: 0, signal: null });
    assert.match(app.stdout(), /script done/);
    await fixture.receiver.waitFor(() => ofService('esm-script').length >= 3);
    const paths = ofService('esm-script').map((span) => new URL(String(span.attributes['url.full'])).pathname);
    assert.deepEqual(paths.sort(), ['/call/1', '/call/2', '/call/3']);
    const calls = fixture.target.requests.filter((request) => request.path.startsWith('/call/'));
    assert.ok(calls.every((request) => typeof request.headers.traceparent === 'string'));
  });
});

describe('importsEsModuleCode: whether an instrumented package needs the ES module hook', () => {
  const root = mkdtempSync(join(tmpdir(), 'rustok-loader-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const app = join(root, 'app', 'index.js');
  const write = (path: string, content: unknown) => {
    const file = join(root, 'app', 'node_modules', path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  };
  write('plain/package.json', { name: 'plain', main: 'lib/index.js' });
  write('plain/lib/index.js', 'module.exports = {};');
  write('wrapped/package.json', { name: 'wrapped', exports: { '.': { import: './esm/index.mjs', require: './lib/index.js' } } });
  write('wrapped/lib/index.js', 'module.exports = { Client: class {} };');
  write(
    'wrapped/esm/index.mjs',
    "// a wrapper\nimport wrapped from '../lib/index.js'\nexport const Client = wrapped.Client\nexport default wrapped\n",
  );
  write('esm-code/package.json', { name: 'esm-code', type: 'module', exports: { node: { import: './index.js', require: './index.cjs' } } });
  write('esm-code/index.js', "import { helper } from './helper.js';\nexport const run = () => helper();\n");
  write('esm-code/helper.js', 'export const helper = () => 1;');
  write('esm-code/index.cjs', 'module.exports = { run: () => 1 };');
  write('broken/package.json', '{ not json');

  it('is false for builtins, CommonJS packages and packages the app does not have', () => {
    assert.equal(importsEsModuleCode(['http', 'https', 'plain', 'absent'], app), false);
  });

  it("is false for an ES module wrapper over the package's own CommonJS", () => {
    assert.equal(importsEsModuleCode(['wrapped'], app), false);
  });

  it('is true for ES module code under the import condition', () => {
    assert.equal(importsEsModuleCode(['plain', 'esm-code'], app), true);
  });

  it('is true for a package.json it cannot read, so the hook is the fallback', () => {
    assert.equal(importsEsModuleCode(['broken'], app), true);
  });
});
