// What every end-to-end test file needs: a receiver and a target for its apps, closed after the file,
// and every app a test started killed by its PID when that test ends, pass or fail.
import { after, afterEach, before } from 'node:test';
import { stopApps } from './app.js';
import { type Receiver, startReceiver } from './receiver.js';
import { startTarget, type Target } from './target.js';

export interface Fixture {
  readonly receiver: Receiver;
  readonly target: Target;
}

/** Call at the top of a test file; the fields are set once its tests run. */
export function useFixture(): Fixture {
  const fixture = {} as { receiver: Receiver; target: Target };
  before(async () => {
    fixture.receiver = await startReceiver();
    fixture.target = await startTarget();
  });
  after(() => Promise.all([fixture.receiver.close(), fixture.target.close()]));
  afterEach(stopApps);
  return fixture;
}
