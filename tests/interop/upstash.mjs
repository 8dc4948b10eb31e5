// Interop driver: the official Upstash client (npm `@upstash/redis`, unmodified) against the
// origin's Upstash-compatible gateway.
//
//   node upstash.mjs <url> <token> <prefix>
//
// Prints one JSON document of results on stdout; the Rust test makes every assertion.
import { Redis } from '@upstash/redis';

const [url, token, prefix] = process.argv.slice(2);
// The client's defaults (base64 response encoding, automatic deserialisation), no retries.
const redis = new Redis({ url, token, retry: false });
const out = {};

async function attempt(name, f) {
  try {
    out[name] = { ok: true, value: await f() };
  } catch (e) {
    out[name] = { ok: false, error: String(e?.message ?? e) };
  }
}

const k = (s) => `${prefix}${s}`;
await attempt('ping', () => redis.ping());
await attempt('set', () => redis.set(k('a'), 'one', { ex: 60 }));
await attempt('get', () => redis.get(k('a')));
await attempt('incr', () => redis.incr(k('n')));
await attempt('hset', () => redis.hset(k('h'), { f1: 'v1', f2: 'v2' }));
await attempt('hgetall', () => redis.hgetall(k('h')));
await attempt('sadd', () => redis.sadd(k('s'), 'x', 'y'));
await attempt('smembers', async () => (await redis.smembers(k('s'))).sort());
await attempt('ttl', () => redis.ttl(k('a')));
await attempt('pipeline', () => {
  const p = redis.pipeline();
  p.set(k('p1'), 'v');
  p.get(k('p1'));
  p.incr(k('n'));
  return p.exec();
});
await attempt('multi', () => {
  const m = redis.multi();
  m.set(k('m1'), 'w');
  m.get(k('m1'));
  return m.exec();
});
await attempt('del', () => redis.del(k('a'), k('p1'), k('m1')));
await attempt('get_deleted', () => redis.get(k('a')));
// Confinement: a key outside the prefix, a command outside the allow-list, a foreign script.
await attempt('outside_prefix', () => redis.get('other:secret'));
await attempt('flushall', () => redis.flushall());
await attempt('foreign_script', () => redis.eval("return redis.call('GET', KEYS[1])", [k('a')], []));
// A wrong token.
const stranger = new Redis({ url, token: 'not-the-token-0123456789', retry: false });
await attempt('wrong_token', () => stranger.get(k('a')));

console.log(JSON.stringify(out));
