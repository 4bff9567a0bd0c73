// The OpenTelemetry packages that the SDK, the metrics and every bundled instrumentation have in
// common, by package name: the build (tsup.config.ts) points their imports here, so each is loaded once.
export const packages: Readonly<Record<string, unknown>> = {
  '@opentelemetry/api': require('@opentelemetry/api'),
  '@opentelemetry/api-logs': require('@opentelemetry/api-logs'),
  '@opentelemetry/core': require('@opentelemetry/core'),
  '@opentelemetry/instrumentation': require('@opentelemetry/instrumentation'),
  '@opentelemetry/resources': require('@opentelemetry/resources'),
  '@opentelemetry/sdk-trace-base': require('@opentelemetry/sdk-trace-base'),
  '@opentelemetry/semantic-conventions': require('@opentelemetry/semantic-conventions'),
};
