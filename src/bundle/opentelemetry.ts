// The OpenTelemetry packages that the SDK, the metrics and every bundled instrumentation have in
// common, by package name: the build (tsup.config.ts) points their imports here, so each is loaded once.
// Imported as ES modules, which esbuild can trim: of the semantic conventions, only the names the
// other bundles read (./semantic-conventions.ts).
import * as api from '@opentelemetry/api';
import * as apiLogs from '@opentelemetry/api-logs';
import * as core from '@opentelemetry/core';
import * as instrumentation from '@opentelemetry/instrumentation';
import * as resources from '@opentelemetry/resources';
import * as sdkTraceBase from '@opentelemetry/sdk-trace-base';
import * as semanticConventions from './semantic-conventions.js';

export const packages: Readonly<Record<string, unknown>> = {
  '@opentelemetry/api': api,
  '@opentelemetry/api-logs': apiLogs,
  '@opentelemetry/core': core,
  '@opentelemetry/instrumentation': instrumentation,
  '@opentelemetry/resources': resources,
  '@opentelemetry/sdk-trace-base': sdkTraceBase,
  '@opentelemetry/semantic-conventions': semanticConventions,
};
