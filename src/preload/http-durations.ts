// The HTTP instrumentations' duration histograms (`http.server.request.duration`,
// `http.client.request.duration`), aggregated here and handed to the metrics reader as a producer of
// its own, in place of the SDK's histograms. The SDK finds a point's series by sorting its attribute
// names and writing them out as JSON, every time: ~2 µs and its garbage, for every request and call.
// Our instrumentations make these attributes from a known set of names, so a series is found by
// their values in a fixed order. What the reader receives is what the SDK's histograms made:
// cumulative points (the reader's temporality: the exporter asks for no other), each series starting
// at its first point (by the SDK's clock, Date.now()), the SDK's buckets, min, max, sum and count,
// and past the SDK's cardinality limit, counted as it counts it (the series recorded since the last
// collection), one series marked `otel.metric.overflow`.
import { type Attributes, type AttributeValue, type HrTime, ValueType } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { CollectionResult, HistogramMetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType, InstrumentType } from '@opentelemetry/sdk-metrics';
import { DURATION_BUCKETS, type DurationHistogram, durationDescription } from '../instrument/http-conventions.js';

/** The SDK's default cardinality limit: this many series, the last of them the overflow. */
const CARDINALITY_LIMIT = 2000;
const OVERFLOW: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** The names our instrumentations give these points, in the order a series' key lists their values. */
const KNOWN_NAMES = [
  'http.request.method',
  'url.scheme',
  'network.protocol.version',
  'http.route',
  'http.response.status_code',
  'server.address',
  'server.port',
  'error.type',
] as const;

interface Series {
  readonly attributes: Attributes;
  readonly startTime: HrTime;
  readonly counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

class Durations implements DurationHistogram {
  /** Every series since the start: cumulative. */
  readonly #series = new Map<string, Series>();
  /**
   * The series recorded since the last collection, which the SDK's limit counts: past it, a set not
   * yet recorded in this interval goes to the overflow series, and may have its own in the next.
   */
  readonly #active = new Set<string>();
  /** As the SDK describes its instruments' metrics: with the instrument's type and advice. */
  readonly #descriptor;

  constructor(
    side: 'server' | 'client',
    private readonly now: () => HrTime,
  ) {
    this.#descriptor = {
      name: `http.${side}.request.duration`,
      description: durationDescription(side),
      unit: 's',
      type: InstrumentType.HISTOGRAM,
      valueType: ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    };
  }

  record(seconds: number, attributes: Attributes): void {
    // As the SDK's histogram: a negative value is dropped, and NaN counts for nothing.
    if (!(seconds >= 0)) return;
    const key = seriesKey(attributes);
    let series: Series | undefined;
    if (this.#active.has(key) || this.#active.size < CARDINALITY_LIMIT - 1) {
      this.#active.add(key);
      series = this.#series.get(key) ?? this.#start(key, { ...attributes });
    } else {
      series = this.#overflow();
    }
    series.count++;
    series.sum += seconds;
    if (seconds < series.min) series.min = seconds;
    if (seconds > series.max) series.max = seconds;
    const bucket = bucketOf(seconds);
    series.counts[bucket] = (series.counts[bucket] ?? 0) + 1;
  }

  /** The metric as the SDK's histogram would give it, or undefined before its first point, as the SDK does. */
  collect(endTime: HrTime): HistogramMetricData | undefined {
    this.#active.clear();
    if (this.#series.size === 0) return undefined;
    return {
      descriptor: this.#descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [...this.#series.values()].map((series) => ({
        attributes: series.attributes,
        startTime: series.startTime,
        endTime,
        value: {
          min: series.min,
          max: series.max,
          sum: series.sum,
          count: series.count,
          buckets: { boundaries: [...DURATION_BUCKETS], counts: [...series.counts] },
        },
      })),
    };
  }

  #start(key: string, attributes: Attributes): Series {
    const series: Series = {
      attributes,
      startTime: this.now(),
      counts: new Array(DURATION_BUCKETS.length + 1).fill(0),
      count: 0,
      sum: 0,
      min: Number.POSITIVE_INFINITY,
      max: Number.NEGATIVE_INFINITY,
    };
    this.#series.set(key, series);
    return series;
  }

  #overflow(): Series {
    return this.#series.get(OVERFLOW_KEY) ?? this.#start(OVERFLOW_KEY, OVERFLOW);
  }
}

const OVERFLOW_KEY = '\u0000overflow';

/**
 * The values of the known names in their order, then any other name, sorted, with its value. Every
 * part says its length or ends where no value can go on, so that no two sets give one key.
 */
function seriesKey(attributes: Attributes): string {
  let key = '';
  let known = 0;
  for (const name of KNOWN_NAMES) {
    const value = attributes[name];
    if (value !== undefined || Object.hasOwn(attributes, name)) {
      known++;
      key += valueKey(value);
    } else {
      key += '-';
    }
  }
  let names = 0;
  for (const _ in attributes) names++;
  if (names === known) return key;
  const others = Object.keys(attributes)
    .filter((name) => !(KNOWN_NAMES as readonly string[]).includes(name))
    .sort();
  for (const name of others) key += `+${name.length}:${name}${valueKey(attributes[name])}`;
  return key;
}

/** An attribute set to undefined is one the SDK keeps apart from its absence (and exports with no value). */
function valueKey(value: AttributeValue | undefined): string {
  if (typeof value === 'string') return `s${value.length}:${value}`;
  if (typeof value === 'number') return `n${value};`;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value === undefined) return 'u';
  const json = JSON.stringify(value) ?? '';
  return `o${json.length}:${json}`;
}

/** The bucket of a value: the first boundary it is not above, as the SDK counts (a boundary's own value is in its bucket). */
function bucketOf(value: number): number {
  let low = 0;
  let high = DURATION_BUCKETS.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((DURATION_BUCKETS[middle] as number) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

export interface HttpDurations extends MetricProducer {
  readonly server: DurationHistogram;
  readonly client: DurationHistogram;
}

/** The two histograms, and the producer that gives them to the reader under `scope`. */
export function httpDurations(scope: InstrumentationScope, resource: Resource, now: () => HrTime): HttpDurations {
  const server = new Durations('server', now);
  const client = new Durations('client', now);
  return {
    server,
    client,
    async collect(): Promise<CollectionResult> {
      const endTime = now();
      const metrics = [server.collect(endTime), client.collect(endTime)].filter((metric) => metric !== undefined);
      return { resourceMetrics: { resource, scopeMetrics: metrics.length > 0 ? [{ scope, metrics }] : [] }, errors: [] };
    },
  };
}
