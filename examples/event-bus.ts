// Event bus: the publisher's span context travels inside the envelope (its `headers`), so the
// handler's span joins the publisher's trace even though the envelope was serialised in between.
import { traced, traceHandler, tracePublish } from '@rustok/otel';

interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  occurredAt: string;
  headers?: Record<string, string>;
  payload: T;
}

type Handler = (envelope: EventEnvelope) => Promise<unknown>;

class EventBus {
  readonly #handlers = new Map<string, Handler[]>();
  readonly #pending = new Set<Promise<unknown>>();

  subscribe<T>(type: string, handler: (envelope: EventEnvelope<T>) => unknown): void {
    // A message older than a minute starts a trace of its own, linked to the publisher's.
    const wrapped = traceHandler(handler, { link: (envelope) => Date.now() - Date.parse(envelope.occurredAt) > 60_000 });
    this.#handlers.set(type, [...(this.#handlers.get(type) ?? []), wrapped as Handler]);
  }

  publish(envelope: EventEnvelope): void {
    tracePublish(envelope, () => {
      const wire = JSON.stringify(envelope); // what a broker would carry
      for (const handler of this.#handlers.get(envelope.type) ?? []) {
        const delivery = new Promise((resolve) => setImmediate(resolve)).then(() => handler(JSON.parse(wire)));
        this.#pending.add(delivery);
        void delivery.finally(() => this.#pending.delete(delivery));
      }
    });
  }

  drain(): Promise<unknown> {
    return Promise.allSettled([...this.#pending]);
  }
}

const bus = new EventBus();
bus.subscribe<{ email: string }>('user.registered', async (envelope) => {
  await traced('send welcome email', async () => console.log(`welcome, ${envelope.payload.email}`));
});

await traced('UserService.register', async () => {
  bus.publish({ id: 'evt-1', type: 'user.registered', occurredAt: new Date().toISOString(), payload: { email: 'ada@example.com' } });
});
await bus.drain();
