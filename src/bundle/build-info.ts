// Facts fixed when the package is built (tsup.config.ts `define`), so that no package.json is read at
// start-up. Run from source, as the unit tests do, there is no build: `build` is undefined.
export interface BuildInfo {
  /** Of @rustok/otel. */
  readonly version: string;
  /** Of the OpenTelemetry SDK (@opentelemetry/core) bundled into dist/. */
  readonly sdkVersion: string;
  /** Of the auto-instrumentations-node release whose instrumentations are bundled. */
  readonly instrumentationsVersion: string;
}

// Replaced by their values in the build; undeclared anywhere else.
declare const RUSTOK_OTEL_VERSION: string;
declare const RUSTOK_OTEL_SDK_VERSION: string;
declare const RUSTOK_OTEL_INSTRUMENTATIONS_VERSION: string;

export const build: BuildInfo | undefined =
  typeof RUSTOK_OTEL_VERSION === 'string'
    ? { version: RUSTOK_OTEL_VERSION, sdkVersion: RUSTOK_OTEL_SDK_VERSION, instrumentationsVersion: RUSTOK_OTEL_INSTRUMENTATIONS_VERSION }
    : undefined;
