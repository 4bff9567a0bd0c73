import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listed, namesRead } from '../../../scripts/semantic-conventions.js';

describe('the semantic conventions the bundles read', () => {
  it('are the names read from the module, in CommonJS builds and esbuild imports alike', () => {
    const bundle = [
      'var semantic_conventions_1 = require_semantic_conventions();',
      'span.setAttribute(semantic_conventions_1.ATTR_HTTP_ROUTE, route);',
      'var import_semantic_conventions = __toESM(require_semantic_conventions());',
      'const key = import_semantic_conventions.ATTR_URL_PATH;',
      'const again = semantic_conventions_1.ATTR_HTTP_ROUTE;',
    ].join('\n');
    assert.deepEqual(namesRead(bundle), { names: ['ATTR_HTTP_ROUTE', 'ATTR_URL_PATH'], escapes: [] });
  });

  it('are read under any name the module is bound to', () => {
    const bundle = [
      'var semconv = __toESM(require_semantic_conventions(), 1);',
      'var sc = require_semantic_conventions();',
      'f(semconv.ATTR_URL_FULL, sc.ATTR_SERVER_PORT);',
    ].join('\n');
    assert.deepEqual(namesRead(bundle), { names: ['ATTR_SERVER_PORT', 'ATTR_URL_FULL'], escapes: [] });
  });

  it('say where a use binds no name (destructured, passed on)', () => {
    const bundle = 'var { ATTR_URL_FULL } = require_semantic_conventions();\nf(require_semantic_conventions());';
    assert.deepEqual(namesRead(bundle).escapes, ['2 of 2 uses bind no name']);
  });

  it('say where the module itself goes somewhere, since its names could not be known', () => {
    const bundle = [
      'var semantic_conventions_1 = require_semantic_conventions();',
      'const all = { ...semantic_conventions_1 };',
      'const one = semantic_conventions_1[name];',
    ].join('\n');
    const { escapes } = namesRead(bundle);
    assert.equal(escapes.length, 2);
    assert.match(escapes[0] ?? '', /^semantic_conventions_1 };/);
  });

  it('are compared with the names the list exports', () => {
    const list = "// a comment\nexport {\n  ATTR_URL_PATH,\n  ATTR_HTTP_ROUTE,\n} from '@opentelemetry/semantic-conventions';\n";
    assert.deepEqual(listed(list), ['ATTR_HTTP_ROUTE', 'ATTR_URL_PATH']);
  });
});
