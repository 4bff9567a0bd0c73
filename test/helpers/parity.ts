// What a parity test compares of two runs of one app, ours and upstream's instrumentation: spans and
// histogram points with everything taken out that differs between any two runs (ids, times, ports,
// stack traces), so that what is left must be equal. And the runs of a client app, bare and under
// each instrumentation.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixtureDir, ROOT, startApp } from './app.js';
import type { ReceivedMetric, ReceivedSpan, Receiver } from './receiver.js';

/** A span by its name, and its path where it has one: a server's spans have the same name for every path. */
function described(span: ReceivedSpan | undefined): string {
  if (!span) return 'not in this app';
  const path = span.attributes['url.path'];
  return typeof path === 'string' ? `${span.name} ${path}` : span.name;
}

/** A port of one of the app's servers, by which server it is: each run listens on ports of its own. */
function portNamer(ports: readonly number[]) {
  const port = (value: unknown): unknown => {
    if (typeof value === 'number') return ports.includes(value) ? `port of server ${ports.indexOf(value)}` : value;
    return typeof value === 'string'
      ? value.replace(/:(\d+)\//, (whole, found) => (ports.includes(Number(found)) ? `:${port(Number(found))}/` : whole))
      : value;
  };
  return port;
}

/** What must be equal: everything but ids, times, ports and stack traces, with the parent by its name and path. */
export function shapes(spans: readonly ReceivedSpan[], ports: readonly number[]) {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const port = portNamer(ports);
  return spans
    .map((span) => ({
      name: span.name,
      kind: span.kind,
      status: span.status,
      parent: span.parentSpanId === '' ? null : described(byId.get(span.parentSpanId)),
      attributes: Object.fromEntries(
        Object.entries(span.attributes)
          .filter(([key]) => key !== 'network.peer.port')
          .map(([key, value]) => [key, key === 'server.port' || key === 'url.full' ? port(value) : value])
          .sort(([a], [b]) => String(a).localeCompare(String(b))),
      ),
      events: span.events.map((event) => ({
        name: event.name,
        attributes: Object.fromEntries(
          Object.entries(event.attributes).map(([key, value]) => [key, key === 'exception.stacktrace' ? typeof value : value]),
        ),
      })),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/**
 * Each series of the latest export of a histogram (cumulative: it holds the totals), by its
 * attributes, with its count, whichever instrumentation scope sent it (upstream's http and undici
 * instrumentations send one each). Series with the same attributes are one: after a handler throws,
 * upstream's instrumentation changes the attributes it recorded, and sends two series that differ
 * only in the order of their attributes, which a backend reads as one.
 */
export function points(metrics: readonly ReceivedMetric[], name: string, ports: readonly number[] = []) {
  const named = metrics.filter((metric) => metric.name === name);
  const latest = [...new Set(named.map((metric) => metric.scope))].map((scope) => named.findLast((metric) => metric.scope === scope));
  const port = portNamer(ports);
  const counts = new Map<string, number>();
  for (const point of latest.flatMap((metric) => metric?.points ?? [])) {
    const attributes = Object.entries(point.attributes)
      .map(([key, value]) => [key, key === 'server.port' ? port(value) : value])
      .sort(([a], [b]) => String(a).localeCompare(String(b)));
    const key = JSON.stringify(Object.fromEntries(attributes));
    counts.set(key, (counts.get(key) ?? 0) + (point.count ?? 0));
  }
  return [...counts]
    .map(([attributes, count]) => ({ attributes: JSON.parse(attributes) as Record<string, unknown>, count }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

export type Mode = 'ours' | 'upstream' | 'bare';

export interface ClientRun {
  readonly stdout: string;
  readonly spans: ReturnType<typeof shapes>;
  readonly metrics: readonly ReceivedMetric[];
  readonly ports: readonly number[];
}

export interface ClientApp {
  /** An app of test/fixtures/http-clients, which prints `ports <plain> <https> <closed>` and ends after its calls. */
  readonly script: string;
  /** The short name that brings upstream's instrumentation back (OTEL_NODE_UPSTREAM_INSTRUMENTATIONS). */
  readonly upstream: string;
  readonly sampler: string;
  /** The client spans it makes, one per request, and the server spans of those that reach its servers. */
  readonly requests: number;
  readonly served: number;
}

const [SERVER, CLIENT] = [2, 3];
const TLS_DIR = join(ROOT, 'test/fixtures/app');

/**
 * Runs a client app bare, under our instrumentation and under upstream's, at once; waits for its
 * spans (when sampled) and for a histogram point per request, and returns what each run printed and
 * sent, its spans as shapes() has them.
 */
export async function runClients(
  receiver: Receiver,
  { script, upstream, sampler, requests, served }: ClientApp,
): Promise<Record<Mode, ClientRun>> {
  const run = async (mode: Mode): Promise<ClientRun> => {
    const service = `${script.replace(/\W/g, '-')}-${sampler}-${mode}`;
    const app = startApp(script, {
      cwd: fixtureDir('http-clients'),
      preload: mode === 'bare' ? 'none' : 'import',
      receiver,
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_TRACES_SAMPLER: sampler,
        TLS_DIR,
        NODE_EXTRA_CA_CERTS: join(TLS_DIR, 'localhost-cert.pem'),
        ...(mode === 'upstream' ? { OTEL_NODE_UPSTREAM_INSTRUMENTATIONS: upstream } : {}),
      },
    });
    const exit = await app.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, `${mode}: stderr: ${app.stderr()}`);
    assert.match(app.stdout(), /^done$/m, `${mode} made every call`);
    const ports = (app.stdout().match(/ports (\d+) (\d+) (\d+)/) ?? []).slice(1).map(Number);
    if (mode === 'bare') return { stdout: app.stdout(), spans: [], metrics: [], ports };
    const mine = (span: ReceivedSpan) => span.resource['service.name'] === service;
    const count = (spans: readonly ReceivedSpan[], kind: number) => spans.filter((span) => mine(span) && span.kind === kind).length;
    const spans = /always_off/.test(sampler)
      ? []
      : await receiver
          .waitFor((all) => count(all, CLIENT) === requests && count(all, SERVER) === served)
          .catch((error: Error) => {
            const all = receiver.spans;
            throw new Error(
              `${mode}: ${count(all, CLIENT)} client and ${count(all, SERVER)} server spans, not ${requests} and ${served}: ${error.message}`,
            );
          });
    const metrics = () => receiver.metrics.filter((metric) => metric.resource['service.name'] === service);
    const measured = () => points(metrics(), 'http.client.request.duration').reduce((sum, point) => sum + (point.count ?? 0), 0);
    await receiver
      .waitForMetrics(() => measured() === requests)
      .catch((error: Error) => {
        throw new Error(`${mode}: ${measured()} requests measured, ${requests} made: ${error.message}`);
      });
    // A refused connection's message names the closed port, with no path after it for shapes() to see.
    const closed = JSON.stringify(shapes(spans.filter(mine), ports)).replaceAll(`127.0.0.1:${ports[2]}`, '127.0.0.1:<closed port>');
    return { stdout: app.stdout(), spans: JSON.parse(closed) as ReturnType<typeof shapes>, metrics: metrics(), ports };
  };
  const [ours, theirs, bare] = await Promise.all((['ours', 'upstream', 'bare'] as const).map(run));
  return { ours: ours as ClientRun, upstream: theirs as ClientRun, bare: bare as ClientRun };
}

/** A client app's lines, one per call, with the trace flags its server saw taken out: what every run must print alike. */
export function calls(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.includes(': '))
    .map((line) => line.replace(/ (none|0[01])$/, ''));
}

/** The trace flags of each call's traceparent, as its server saw them: `none`, `00` or `01`. */
export function flagsSeen(stdout: string): string[] {
  return stdout.split('\n').flatMap((line) => / (none|0[01])$/.exec(line)?.[1] ?? []);
}

/** Asserts that two runs sent the same spans and histogram points; `listed` makes upstream's spans what the guide says ours differ in. */
export function assertSameTelemetry(ours: ClientRun, upstream: ClientRun, listed = (spans: ClientRun['spans']) => spans): void {
  assert.deepEqual(ours.spans, listed(upstream.spans));
  for (const name of ['http.client.request.duration', 'http.server.request.duration']) {
    const [mine, theirs] = [points(ours.metrics, name, ours.ports), points(upstream.metrics, name, upstream.ports)];
    assert.deepEqual(mine, theirs, name);
  }
}
