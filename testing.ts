// `@rustok/otel/testing` for ES modules: the CommonJS bundle itself, so that one copy of the receiver
// and of the gRPC and protobuf code it carries ships. Its types are src/testing/index.ts's (tsup.config.ts).
import { createRequire } from 'node:module';

const testing: typeof import('./src/testing/index.js') = createRequire(import.meta.url)('./testing.cjs');

export const { startTestReceiver } = testing;
