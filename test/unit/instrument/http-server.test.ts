// The request attributes of our server spans against upstream's own function, on the requests where
// they are easiest to get wrong: proxies, IPv6, missing or odd Host headers, unusual targets and methods.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { diag } from '@opentelemetry/api';
import { requestAttributes } from '../../../src/instrument/http-server.js';

const upstream = createRequire(import.meta.url)('@opentelemetry/instrumentation-http/build/src/utils.js') as {
  getIncomingRequestAttributes(request: IncomingMessage, options: object, logger: typeof diag): Record<string, unknown>;
};

interface Request {
  readonly url?: string;
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly httpVersion?: string;
  readonly remoteAddress?: string;
}

function request({
  url = '/',
  method = 'GET',
  headers = { host: 'shop.example:8080' },
  httpVersion = '1.1',
  remoteAddress = '10.1.2.3',
}: Request) {
  return { url, method, headers, httpVersion, socket: { remoteAddress, remotePort: 51234 } } as unknown as IncomingMessage;
}

const CASES: [string, Request, ('http' | 'https')?][] = [
  ['a plain GET', {}],
  ['over TLS, no port in Host', { headers: { host: 'shop.example' } }, 'https'],
  ['no Host header', { headers: {} }],
  ['an empty Host header', { headers: { host: '' } }],
  ['a Host that is no host', { headers: { host: 'a b' } }],
  ['an IPv6 Host with a port', { headers: { host: '[2001:db8::1]:8443' } }],
  ['an IPv6 Host without one', { headers: { host: '[2001:db8::1]' } }, 'https'],
  ['a query, signed', { url: '/files/a.txt?X-Amz-Signature=abc&X-Amz-Credential=k&part=1' }],
  ['a query with spaces, plus signs and percent escapes', { url: '/search?q=a b+c%20d&x=%E2%9C%93' }],
  ['an empty query', { url: '/list?' }],
  ['a fragment', { url: '/page?a=1#top' }],
  ['dot segments', { url: '/a/./b/../c' }],
  ['characters a URL escapes', { url: '/say/"hi"/{x}|y^`' }],
  ['an absolute-form target (a proxy request)', { url: 'http://other.example:9000/elsewhere?x=1' }],
  ['an asterisk target', { url: '*', method: 'OPTIONS' }],
  ['a lower-case method', { method: 'get' }],
  ['a method outside the standard ones', { method: 'PURGE' }],
  ['a Forwarded header', { headers: { host: 'internal:80', forwarded: 'for=192.0.2.60;proto=https;host=shop.example' } }],
  ['a Forwarded header with IPv6 and ports', { headers: { host: 'h', forwarded: 'for="[2001:db8::1]:4711";host="shop.example:8443"' } }],
  ['Forwarded entries, the first without a host', { headers: { host: 'h', forwarded: 'for=1.2.3.4, for=5.6.7.8;host=b.example' } }],
  ['a Forwarded header that does not parse', { headers: { host: 'h', forwarded: 'for=;;==' } }],
  ['X-Forwarded-Host and -Proto', { headers: { host: 'h', 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' } }],
  ['X-Forwarded-Host without a proto', { headers: { host: 'h', 'x-forwarded-host': 'shop.example' } }],
  [
    'X-Forwarded-Host, several protos',
    { headers: { host: 'h', 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': ['http', 'https'] } },
  ],
  ['X-Forwarded-For, a chain', { headers: { host: 'h', 'x-forwarded-for': ' 203.0.113.9 , 10.0.0.1' } }],
  ['X-Forwarded-For with a port', { headers: { host: 'h', 'x-forwarded-for': '203.0.113.9:5000' } }],
  ['X-Forwarded-For, IPv6 with a port', { headers: { host: 'h', 'x-forwarded-for': '[2001:db8::2]:5000' } }],
  ['X-Forwarded-For, not an address', { headers: { host: 'h', 'x-forwarded-for': 'unknown' } }],
  ['a User-Agent', { headers: { host: 'h', 'user-agent': 'curl/8.5.0' } }],
  ['HTTP/1.0, no peer', { httpVersion: '1.0', remoteAddress: '' }],
  // Where a plain path and host need no parser, and where they do.
  ['a path with every character a URL leaves alone', { url: "/a-b_c~d!e$f&g'h(i)j*k+l,m;n=o:p@q%zz/r.s" }],
  ['a dot in a segment', { url: '/files/report.v2.pdf?download=1' }],
  ['a dot segment at the end', { url: '/a/..' }],
  ['an escaped dot segment', { url: '/a/%2E%2e/b' }],
  ['a path starting with two slashes', { url: '//evil.example/x' }],
  ['a backslash', { url: '/a\\b' }],
  ['a tab in the target', { url: '/a\tb?c=\td' }],
  ['a query with only a question mark and a fragment', { url: '/x?#y' }],
  ['a port too large', { headers: { host: 'shop.example:65536' } }],
  ['the largest port', { headers: { host: 'shop.example:65535' } }],
  ['a port with leading zeros', { headers: { host: 'shop.example:0080' } }],
  ['a numeric last label', { headers: { host: 'shop.123' } }],
  ['an address beyond IPv4', { headers: { host: '256.1.1.1' } }],
  ['an address with an octal part', { headers: { host: '010.0.0.09' } }],
  ['a dotted quad', { headers: { host: '192.168.0.10:3000' } }],
  ['a host with an underscore', { headers: { host: 'my_host:3000' } }],
  ['a host with a trailing dot', { headers: { host: 'shop.example.' } }],
  ['a host with a space', { headers: { host: 'shop example' } }],
];

describe("our server spans' request attributes", () => {
  for (const [what, sent, scheme = 'http'] of CASES) {
    it(`are upstream's for ${what}`, () => {
      const ours = requestAttributes(request(sent), scheme);
      const theirs = upstream.getIncomingRequestAttributes(
        request(sent),
        { component: scheme, enableSyntheticSourceDetection: false, redactedQueryParams: undefined },
        diag,
      );
      // Upstream keeps keys whose value is undefined; the span drops them either way.
      const defined = (attributes: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== undefined));
      assert.deepEqual(defined(ours), defined(theirs));
    });
  }
});
