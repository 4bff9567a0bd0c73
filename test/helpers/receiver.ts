// The tests' OTLP receiver is the one `rustok-otel dev` runs.
export * from '../../src/receiver/otlp-receiver.js';
