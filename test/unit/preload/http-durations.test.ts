import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Attributes, ValueType } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { DURATION_BUCKETS, durationDescription } from '../../../src/instrument/http-conventions.js';
import { httpDurations } from '../../../src/preload/http-durations.js';

const SCOPE = { name: '@rustok/otel', version: '1.0.0' };
type Point = [seconds: number, attributes: Attributes];

/**
 * The same points recorded into ours and into the SDK's histogram as our instrumentations made it
 * (same name, description, unit, buckets), collected by one reader after each round: what each
 * produced at the last collection.
 */
async function both(side: 'server' | 'client', ...rounds: (readonly Point[])[]) {
  const resource = resourceFromAttributes({ 'service.name': 'test' });
  const durations = httpDurations(SCOPE, resource, hrTime);
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
    metricProducers: [durations],
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  const sdk = provider.getMeter('sdk').createHistogram(`http.${side}.request.duration`, {
    description: durationDescription(side),
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
  });
  let collected: ResourceMetrics | undefined;
  for (const points of rounds) {
    for (const [seconds, attributes] of points) {
      durations[side].record(seconds, attributes);
      sdk.record(seconds, attributes);
    }
    ({ resourceMetrics: collected } = await reader.collect());
  }
  const resourceMetrics = collected as ResourceMetrics;
  await provider.shutdown();
  return { ours: metricOf(resourceMetrics, SCOPE.name), sdk: metricOf(resourceMetrics, 'sdk') };
}

function metricOf(resourceMetrics: ResourceMetrics, scope: string) {
  const metrics = resourceMetrics.scopeMetrics.filter((scopeMetrics) => scopeMetrics.scope.name === scope).flatMap((s) => s.metrics);
  assert.ok(metrics.length <= 1, `one metric at most in ${scope}`);
  const [metric] = metrics;
  if (!metric) return undefined;
  const points = (metric.dataPoints as DataPoint<Histogram>[]).map(({ attributes, value }) => ({ attributes, value }));
  const key = (attributes: Attributes) => JSON.stringify(Object.entries(attributes).sort());
  return {
    descriptor: metric.descriptor,
    temporality: metric.aggregationTemporality,
    type: metric.dataPointType,
    points: points.sort((a, b) => key(a.attributes).localeCompare(key(b.attributes))),
  };
}

const server = (status: number, extra: Attributes = {}): Attributes => ({
  'http.request.method': 'GET',
  'url.scheme': 'http',
  'network.protocol.version': '1.1',
  'http.route': '/users/:id',
  'http.response.status_code': status,
  ...extra,
});

describe('the HTTP duration histograms', () => {
  it("give the SDK histogram's metric: descriptor, temporality, series, buckets, min, max, sum and count", async () => {
    const points: Point[] = [
      [0.003, server(200)],
      [0.005, server(200)], // on a boundary: in that boundary's bucket
      [0.0051, server(200)],
      [12, server(200)], // above the last boundary
      [0.2, server(500, { 'error.type': '500' })],
      [0.2, { 'http.request.method': 'POST', 'url.scheme': 'https' }],
      [0.4, { 'http.request.method': 'GET', 'url.scheme': 'http', 'server.address': 'example.com', 'server.port': 443 }],
      [0.1, server(200, { 'app.tenant': 'a', 'app.zone': 'z' })], // names of no instrumentation of ours
      [0.1, { 'app.zone': 'z', 'app.tenant': 'a', ...server(200) }],
      [Number.NaN, server(200)],
    ];
    for (const side of ['server', 'client'] as const) {
      const { ours, sdk } = await both(side, points);
      assert.ok(ours && sdk);
      assert.deepEqual(ours, sdk, side);
    }
  });

  it('keep one series for one set of attributes, whatever order its names were set in', async () => {
    const thrownThen500 = { 'http.request.method': 'GET', 'error.type': 'TypeError', 'http.route': '/x' } as Attributes;
    thrownThen500['http.response.status_code'] = 500;
    const answered500 = { 'http.request.method': 'GET', 'http.route': '/x', 'http.response.status_code': 500, 'error.type': 'TypeError' };
    const { ours, sdk } = await both('server', [
      [0.01, thrownThen500],
      [0.02, answered500],
    ]);
    assert.equal(ours?.points.length, 1);
    assert.deepEqual(ours, sdk);
  });

  it('keep apart sets whose values would run together, whatever characters they hold', async () => {
    const { ours, sdk } = await both('client', [
      [0.01, { 'http.request.method': 'G\u0001sH', 'http.route': '' }],
      [0.01, { 'http.request.method': 'G', 'url.scheme': 'H' }],
      [0.01, { 'http.request.method': 'G;', 'server.port': 1 }],
      [0.01, { 'http.request.method': 'G', 'server.port': '1' }],
      [0.01, { 'app.a': 'x', 'app.b': 'y' }],
      [0.01, { 'app.a': 'x+1:ap' }],
      [0.01, { 'app.a': 'x\u0001\u0002app.b\u0003sy' }],
      [0.01, { 'app.a': 'x', 'app.b': 'y\u0001' }],
      [0.01, { 'app.list': ['a', 'b'] }],
      [0.01, { 'app.list': ['a,b'] }],
      [0.01, { 'app.flag': true }],
      [0.01, { 'app.flag': 'true' }],
    ]);
    assert.equal(ours?.points.length, 12);
    assert.deepEqual(ours, sdk);
  });

  it('add up over collections, each series in one point', async () => {
    const { ours, sdk } = await both(
      'server',
      [
        [0.01, server(200)],
        [0.3, server(404)],
      ],
      [[0.02, server(200)]],
      [
        [7, server(200)],
        [0.001, server(500)],
      ],
    );
    assert.deepEqual(
      ours?.points.map((point) => point.value.count),
      [3, 1, 1],
    );
    assert.deepEqual(ours, sdk);
  });

  it('keep an attribute set to undefined apart from its absence, as the SDK does', async () => {
    const failed = { 'http.request.method': 'GET', 'server.address': 'example.com', 'server.port': 443, 'error.type': undefined };
    const { ours, sdk } = await both('client', [
      [0.1, failed],
      [0.2, { 'http.request.method': 'GET', 'server.address': 'example.com', 'server.port': 443 }],
      [0.3, { ...failed, 'app.extra': undefined }],
    ]);
    assert.equal(ours?.points.length, 3);
    assert.deepEqual(ours, sdk);
  });

  it('count the cardinality limit over the series recorded since the last collection, as the SDK does', async () => {
    const host = (name: string): Attributes => ({ 'http.request.method': 'GET', 'server.address': name, 'server.port': 443 });
    const early = Array.from({ length: 1999 }, (_, n): Point => [0.01, host(`early-${n}`)]);
    const late = Array.from({ length: 100 }, (_, n): Point => [0.02, host(`late-${n}`)]);
    const { ours, sdk } = await both('client', early, [...late, ...late], [...early.slice(0, 1998), ...late]);
    assert.deepEqual(ours, sdk);
    assert.ok(ours?.points.some((point) => point.attributes['server.address'] === 'late-5'));
    assert.ok(ours?.points.some((point) => point.attributes['otel.metric.overflow'] === true));
  });

  it('put the series past the cardinality limit into one overflow series, as the SDK does', async () => {
    const points: Point[] = Array.from({ length: 2100 }, (_, n) => [0.01 * (n % 7), server(200, { 'http.route': `/r${n}` })]);
    const { ours, sdk } = await both('client', points);
    assert.equal(ours?.points.length, 2000);
    assert.deepEqual(
      ours?.points.find((point) => point.attributes['otel.metric.overflow'] === true),
      sdk?.points.find((point) => point.attributes['otel.metric.overflow'] === true),
    );
    assert.deepEqual(ours, sdk);
  });

  it('give nothing before their first point, as the SDK does', async () => {
    const { ours, sdk } = await both('server', [[-1, server(200)]]);
    assert.equal(ours, undefined);
    assert.equal(sdk, undefined);
  });

  it('start each series at its first point and end it at the collection', async () => {
    const resource = resourceFromAttributes({});
    let now = 0;
    const durations = httpDurations(SCOPE, resource, () => [now++, 0]);
    durations.server.record(0.1, server(200));
    durations.server.record(0.1, server(404));
    durations.server.record(0.1, server(200));
    const { resourceMetrics } = await durations.collect();
    const [metric] = resourceMetrics.scopeMetrics[0]?.metrics ?? [];
    assert.deepEqual(
      metric?.dataPoints.map(({ startTime, endTime }) => [startTime[0], endTime[0]]),
      [
        [0, 2],
        [1, 2],
      ],
    );
    assert.deepEqual(resourceMetrics.scopeMetrics[0]?.scope, SCOPE);
  });
});
