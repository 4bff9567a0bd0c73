// The routes our Express instrumentation makes of the paths a request passed through, against
// upstream's own functions, on the patterns apps use: routers in routers, parameters, wildcards of
// Express 4 and 5, regular expressions, lists of paths, mount points that say nothing.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { constructedRoute, declaredPath, matchedRoute } from '../../../src/instrument/express.js';

const upstream = createRequire(import.meta.url)('@opentelemetry/instrumentation-express/build/src/utils.js') as {
  getConstructedRoute(request: object): string;
  getActualMatchedRoute(request: object): string | undefined;
  getLayerPath(args: unknown[]): string | undefined;
};

/** A request as upstream's functions read it: the stored paths, and the URL as it came. */
const request = (paths: string[], originalUrl: string) => ({ __ot_middlewares: paths, originalUrl });

const CASES: [string, string[], string][] = [
  ['nothing stored', [], '/x'],
  ['a route', ['/users/:id'], '/users/42'],
  ['a router and a route', ['/api', '/items/:item'], '/api/items/7'],
  ['routers in routers', ['/v1/shops', '/:shop/orders', '/:order'], '/v1/shops/s1/orders/o9'],
  ['mount points of /', ['/', '/', '/users/:id'], '/users/1'],
  ['only /, at the root', ['/', '/'], '/'],
  ['only /, elsewhere', ['/', '/'], '/nowhere'],
  ['a double slash where paths join', ['/api/', '/items'], '/api/items'],
  ['Express 4 wildcard', ['*'], '/anything'],
  ['a wildcard after a mount', ['/files', '*'], '/files/a/b'],
  ['Express 5 named wildcard', ['/files', '/{*rest}'], '/files/a/b'],
  ['Express 5 wildcard segment', ['/files/*splat'], '/files/a'],
  ['/* mount', ['/*', '/x'], '/x'],
  ['a list of paths', ['/a,/b'], '/b'],
  ['a regular expression', ['/^\\/re\\d+$/'], '/re42'],
  ['a pattern with brackets', ['/[ab]'], '/a'],
  ['no leading slash', ['users'], '/users'],
  ['a route the URL does not start with', ['/users/me'], '/other'],
  ['a route that is a prefix of the URL', ['/static'], '/static/app.js'],
  ['an optional parameter', ['/users{/:id}'], '/users'],
  ['an empty path', [''], '/'],
];

describe("our Express routes are upstream's", () => {
  for (const [what, paths, url] of CASES) {
    it(`for ${what}`, () => {
      assert.equal(constructedRoute(paths), upstream.getConstructedRoute(request(paths, url)), 'constructed');
      assert.equal(matchedRoute(paths, url), upstream.getActualMatchedRoute(request(paths, url)), 'matched');
    });
  }

  for (const first of ['/users', /^\/re\d+$/, 404, ['/a', /b+/, 7, {}], undefined, () => {}, ['/only']]) {
    it(`declares ${String(first)} as upstream does`, () => {
      assert.equal(declaredPath(first), upstream.getLayerPath([first]));
    });
  }
});
