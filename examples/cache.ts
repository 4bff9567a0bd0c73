// Cache: the ioredis instrumentation records each command (db.system.name redis, db.query.text); a span
// around cache-aside lookups says whether it hit, which is what you want to count.
// Run: REDIS_URL=redis://… OTEL_ENABLED=true node --import tsx --import @rustok/otel/register examples/cache.ts
import { traced } from '@rustok/otel';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

function cached<T>(key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T> {
  return traced(
    'cache.get_or_load',
    async (span) => {
      const hit = await redis.get(key);
      span.setAttribute('cache.hit', hit !== null);
      if (hit !== null) return JSON.parse(hit) as T;
      const value = await load();
      await redis.set(key, JSON.stringify(value), 'EX', ttlSeconds);
      return value;
    },
    { 'cache.key': key },
  );
}

const loadProfile = () => traced('load profile', async () => ({ id: 7, name: 'Ada' }));
await redis.del('profile:7');
console.log('first:', await cached('profile:7', 60, loadProfile));
console.log('second:', await cached('profile:7', 60, loadProfile));
await redis.quit();
