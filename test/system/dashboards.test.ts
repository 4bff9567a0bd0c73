// The Grafana dashboard and the Prometheus alerts in dashboards/: promtool checks and unit-tests the rules,
// and a real Prometheus, scraping an example service that runs under the preload, answers every panel's query
// with plausible numbers and loads and evaluates the alert rules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type App, EXAMPLES_DIR, ROOT, startApp, stopApps } from '../helpers/app.js';
import { PROMTOOL, type Prometheus, type PrometheusAnswer, startPrometheus, stopServers } from '../helpers/services.js';
import { closedPort } from '../helpers/target.js';

const DASHBOARD = join(ROOT, 'dashboards/rustok-red.json');
const ALERTS = join(ROOT, 'dashboards/rustok-alerts.yml');
const ALERT_TESTS = join(ROOT, 'dashboards/rustok-alerts.test.yml');
const SERVICE = 'red-demo';
const ALERT_NAMES = ['RustokEventLoopSaturated', 'RustokHighErrorRatio', 'RustokHighLatencyP99'];
// What the dashboard's variables stand for when a query goes to Prometheus directly.
const VARIABLES: Record<string, string> = { service: SERVICE, route: '.*', __rate_interval: '1m', __interval: '1s', __range: '1m' };

interface Target {
  readonly refId: string;
  readonly expr?: string;
  readonly datasource?: { type?: string; uid?: string };
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: readonly Target[];
  readonly fieldConfig?: { defaults?: { unit?: string } };
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { query?: string };
  readonly multi?: boolean;
  readonly includeAll?: boolean;
}
interface Dashboard {
  readonly __inputs: readonly { name: string; type: string; pluginId: string }[];
  readonly schemaVersion: number;
  readonly uid: string;
  readonly panels: readonly Panel[];
  readonly templating: { list: readonly Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const panels = dashboard.panels.filter((panel) => panel.type !== 'row');

/** Grafana's `$name`, `${name}` and `${name:format}` replaced by what they stand for here. */
function substitute(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const value = VARIABLES[braced ?? bare ?? ''];
    assert.ok(value !== undefined, `no value for the dashboard variable ${whole} in ${expr}`);
    return value;
  });
}

function variableQuery(name: string): string {
  const variable = dashboard.templating.list.find((candidate) => candidate.name === name);
  assert.ok(variable, `a variable named ${name}`);
  const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
  assert.ok(query, `variable ${name} has a query`);
  return query;
}

function promtool(...args: string[]): void {
  assert.ok(existsSync(PROMTOOL), `no ${PROMTOOL}; run \`node --import tsx test/fixtures/install.ts\` first`);
  const result = spawnSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, `promtool ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stdout}${result.stderr}`);
}

describe('alert rules', () => {
  it('pass `promtool check rules`', () => promtool('check', 'rules', ALERTS));

  it('pass their unit tests (`promtool test rules`)', () => promtool('test', 'rules', ALERT_TESTS));
});

describe('dashboard JSON', () => {
  it('imports into any Grafana: a DS_PROMETHEUS input and a Prometheus datasource variable every query uses', () => {
    assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
    assert.ok(dashboard.uid, 'a uid');
    assert.deepEqual(
      dashboard.__inputs.map(({ name, type, pluginId }) => ({ name, type, pluginId })),
      [{ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }],
    );
    const datasource = dashboard.templating.list.find((variable) => variable.name === 'datasource');
    assert.equal(datasource?.type, 'datasource');
    assert.equal(datasource?.query, 'prometheus');
    assert.ok(JSON.stringify(datasource).includes(`\${DS_PROMETHEUS}`), 'the datasource variable defaults to the imported one');
    for (const panel of panels) {
      for (const source of [panel.datasource, ...(panel.targets ?? []).map((target) => target.datasource)]) {
        assert.deepEqual(source, { type: 'prometheus', uid: `\${datasource}` }, `the datasource of "${panel.title}"`);
      }
    }
  });

  it('has the service and route variables, multi-valued with All', () => {
    for (const name of ['service', 'route']) {
      const variable = dashboard.templating.list.find((candidate) => candidate.name === name);
      assert.equal(variable?.type, 'query', name);
      assert.equal(variable.multi, true, `${name} is multi`);
      assert.equal(variable.includeAll, true, `${name} includes All`);
    }
    assert.match(variableQuery('service'), /^label_values\(.*http_server_request_duration.*_count.*,\s*job\)$/);
    assert.match(variableQuery('route'), /^label_values\(.*job=~"\$service".*,\s*http_route\)$/);
  });

  it('gives every panel a title, a unit and at least one query, each matching both metric namings', () => {
    assert.ok(panels.length >= 10, `${panels.length} panels`);
    for (const panel of panels) {
      assert.ok(['timeseries', 'stat'].includes(panel.type), `"${panel.title}" is a ${panel.type}`);
      assert.ok(panel.title, 'a title');
      assert.ok(panel.fieldConfig?.defaults?.unit, `"${panel.title}" has a unit`);
      const exprs = (panel.targets ?? []).map((target) => target.expr).filter(Boolean);
      assert.ok(exprs.length > 0, `"${panel.title}" has a query`);
      for (const expr of exprs) {
        // A bare metric name would match one naming only; every selector names its metric by a regex.
        assert.doesNotMatch(expr!, /(^|[^_\w"])(http_|nodejs_|v8js_)\w+\s*[{[(]/, `"${panel.title}": ${expr}`);
        assert.match(expr!, /__name__=~"\w+\((_seconds|_ratio|_bytes)\)\?\w*"/, `"${panel.title}": ${expr}`);
      }
    }
  });
});

type Series = { metric: Record<string, string>; value: number }[];

// What a panel's numbers must look like after the traffic below, by panel title.
const between = (low: number, high: number) => (series: Series) => {
  for (const { metric, value } of series)
    assert.ok(value >= low && value <= high, `${value} not in [${low}, ${high}] for ${JSON.stringify(metric)}`);
};
const latency = (series: Series) => {
  for (const { metric, value } of series) assert.ok(value > 0 && value < 5, `latency ${value} s for ${JSON.stringify(metric)}`);
};
const ratioByRoute = (series: Series) => {
  const byRoute = Object.fromEntries(series.map(({ metric, value }) => [metric.http_route, value]));
  assert.equal(byRoute['/fail'], 1, 'every /fail request is a 5xx');
  assert.equal(byRoute['/products/:id'], 0, 'no /products/:id request is a 5xx');
  assert.equal(byRoute['/recommendations'], 0, 'no /recommendations request is a 5xx');
};
const PLAUSIBLE: Record<string, (series: Series) => void> = {
  'Request rate': between(Number.MIN_VALUE, 1_000),
  'Error ratio (5xx)': between(Number.MIN_VALUE, 1 - Number.EPSILON),
  'Latency p99': latency,
  'Request rate by route': between(Number.MIN_VALUE, 1_000),
  'Error ratio (5xx / all) by route': ratioByRoute,
  'Latency p50 by route': latency,
  'Latency p95 by route': latency,
  'Latency p99 by route': latency,
  'Outgoing request rate': between(Number.MIN_VALUE, 1_000),
  'Outgoing latency p99': latency,
  'Event-loop delay p99 / p50': between(0, 5),
  'Event-loop utilization': between(0, 1),
  'Heap used': between(1_000_000, 4e9),
  'GC time per second': between(0, 1),
};

describe('against a real Prometheus scraping an example service', () => {
  let app: App;
  let prometheus: Prometheus;

  /** Succeeds or fails the test; the series with their values as numbers. */
  async function query(promql: string): Promise<Series> {
    const answer: PrometheusAnswer = await prometheus.query(promql);
    assert.equal(answer.status, 'success', `${promql}\n${answer.errorType}: ${answer.error}`);
    assert.equal(answer.data?.resultType, 'vector', promql);
    return answer.data!.result.map(({ metric, value }) => ({ metric, value: Number(value[1]) }));
  }

  async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      assert.ok(Date.now() < deadline, `${what} within ${ms / 1000} s\napp stderr:\n${app.stderr()}`);
      await delay(250);
    }
  }

  const get = async (path: string, status: number) => assert.equal((await app.get(path)).status, status, path);
  const SERVER_COUNT = `{__name__=~"http_server_request_duration(_seconds)?_count", job="${SERVICE}"}`;

  before(async () => {
    const port = await closedPort();
    app = startApp('examples/http-express.ts', {
      cwd: EXAMPLES_DIR,
      nodeArgs: ['--import=tsx'],
      env: {
        OTEL_METRICS_EXPORTER: 'prometheus',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_SERVICE_NAME: SERVICE,
        // Traces go nowhere: this is about metrics.
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
      },
    });
    await app.listening;
    prometheus = await startPrometheus([{ job: SERVICE, target: `127.0.0.1:${port}` }], 1, [ALERTS]);
    await until('Prometheus scrapes the app', async () => (await query(`up{job="${SERVICE}"}`)).some(({ value }) => value === 1));
    // One request per route first, so the series exist before the traffic and rate() sees all of it.
    await get('/products/0', 200);
    await get('/fail', 500);
    await get('/recommendations', 200);
    await until('the server duration count of each route', async () => (await query(SERVER_COUNT)).length >= 3);
    // About 60 requests over 3 s, a fifth of them failing.
    for (let i = 1; i <= 60; i++) {
      if (i % 5 === 0) await get('/fail', 500);
      else if (i % 5 === 1) await get('/recommendations', 200);
      else await get(`/products/${i}`, 200);
      await delay(50);
    }
    // Every request counted in what Prometheus scraped: the app's totals stop moving once it has.
    const total = async () => (await query(`sum(${SERVER_COUNT})`))[0]?.value;
    await until('the last requests scraped', async () => {
      const seen = await total();
      // 63 requests plus the 13 calls /recommendations made to /products/1.
      return seen !== undefined && seen >= 76;
    });
  });

  after(async () => {
    stopApps();
    await stopServers();
  });

  it('the variables find the service and its routes', async () => {
    for (const [name, expected] of [
      ['service', [SERVICE]],
      ['route', ['/fail', '/products/:id', '/recommendations']],
    ] as const) {
      const [, selector, label] = variableQuery(name).match(/^label_values\((.*),\s*(\w+)\)$/s) ?? [];
      assert.ok(selector && label, `${name}: ${variableQuery(name)}`);
      const values = (await query(`count by (${label}) (${substitute(selector)})`)).map(({ metric }) => metric[label]);
      for (const value of expected) assert.ok(values.includes(value), `${name} offers ${value}: ${values.join(', ')}`);
    }
  });

  for (const panel of panels) {
    it(`panel "${panel.title}" has data, every value finite and plausible`, async () => {
      const plausible = PLAUSIBLE[panel.title];
      assert.ok(plausible, `a plausibility check for the panel "${panel.title}"`);
      for (const target of panel.targets ?? []) {
        const promql = substitute(target.expr ?? '');
        const series = await query(promql);
        assert.ok(series.length > 0, `no series for ${target.refId}: ${promql}`);
        for (const { metric, value } of series) assert.ok(Number.isFinite(value), `${value} for ${JSON.stringify(metric)}: ${promql}`);
        plausible(series);
      }
    });
  }

  it('Prometheus loads the alert rules and evaluates them without error', async () => {
    type Rule = { name: string; type: string; query: string; health: string; lastError?: string; state: string; alerts: unknown[] };
    const rules = async () => {
      const response = await fetch(`${prometheus.url}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) });
      const body = (await response.json()) as { status: string; data: { groups: { rules: Rule[] }[] } };
      assert.equal(body.status, 'success');
      return body.data.groups.flatMap((group) => group.rules);
    };
    assert.deepEqual((await rules()).map((rule) => rule.name).sort(), ALERT_NAMES);
    // With a fifth of the requests failing, the error-ratio rule is pending (its `for` is 5 minutes).
    await until('the error-ratio alert pending', async () =>
      (await rules()).some((rule) => rule.name === 'RustokHighErrorRatio' && rule.state === 'pending'),
    );
    for (const rule of await rules()) {
      assert.equal(rule.type, 'alerting', rule.name);
      assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
      // Each expression, run on its own against the real series.
      const series = await query(rule.query);
      for (const { value } of series) assert.ok(Number.isFinite(value), `${rule.name}: ${value}`);
      if (rule.name === 'RustokHighErrorRatio') {
        assert.deepEqual(
          series.map(({ metric }) => metric),
          [{ job: SERVICE }],
          'the error ratio is over 5% for the service',
        );
        between(0.05, 0.5)(series);
      }
    }
  });
});
