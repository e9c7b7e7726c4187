// The one backoff helper: every reconnect and retry loop takes its delays from here.
import t from 'tap';
import { Backoff, backoffDelay, type BackoffPolicy } from '../src/backoff.js';

const policy = (jitter: BackoffPolicy['jitter']): BackoffPolicy => ({
  initialMs: 250,
  maxMs: 10_000,
  jitter,
});

t.test('full jitter: random in [0, min(max, initial·2^attempt))', async (t) => {
  t.same(
    [0, 1, 2, 3, 4, 5, 6, 40].map((a) => backoffDelay(a, policy('full'), () => 0.5)),
    [125, 250, 500, 1000, 2000, 4000, 5000, 5000],
  );
  t.equal(
    backoffDelay(0, policy('full'), () => 0),
    0,
    'the first retry can be at once',
  );
  t.equal(
    backoffDelay(3, policy('full'), () => 0.999),
    1998,
  );
});

t.test('equal jitter: in [ceiling/2, ceiling), never at once', async (t) => {
  t.same(
    [0, 1, 5, 6, 1000].map((a) => backoffDelay(a, policy('equal'), () => 0)),
    [125, 250, 4000, 5000, 5000],
  );
  t.equal(
    backoffDelay(2, policy('equal'), () => 0.999),
    999,
  );
});

t.test('no jitter: the ceiling itself, capped', async (t) => {
  t.same(
    [0, 1, 2, 5, 6, 7].map((a) => backoffDelay(a, policy('none'), () => 0.5)),
    [250, 500, 1000, 8000, 10_000, 10_000],
  );
  t.equal(backoffDelay(-3, policy('none')), 250, 'a negative attempt is the first');
});

t.test('Backoff counts attempts and starts over on reset', async (t) => {
  const randoms = [0.5, 0.25, 0.75, 0.5];
  const b = new Backoff(policy('full'), () => randoms.shift()!);
  t.same([b.next(), b.next(), b.next()], [125, 125, 750]);
  t.equal(b.attempt, 3);
  b.reset();
  t.equal(b.attempt, 0);
  t.equal(b.next(), 125, 'back to the first ceiling');
});
