import t from 'tap';
import { EmbeddedBus, TOPICS } from '@appliance/protocol';
import { followControlTopic } from '../src/control-topic.js';

t.test('one subscription hands every control record, retained ones first, to each reader', async (t) => {
  const bus = new EmbeddedBus();
  await bus.publish(TOPICS.control, [{ key: 'a', value: 'retained' }]);
  const seen: string[] = [];
  const reader = (name: string) => ({
    onMessage: (m: { value: Buffer }) => void seen.push(`${name}:${m.value.toString()}`),
  });
  const until = async (n: number) => {
    for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  };
  const sub = await followControlTopic(bus, [reader('eligibility'), reader('house')]);
  await until(2);
  t.same(seen, ['eligibility:retained', 'house:retained'], 'what was retained before is read');
  await bus.publish(TOPICS.control, [
    { key: 'b', value: 'one' },
    { key: 'c', value: 'two' },
  ]);
  await until(6);
  t.same(seen, [
    'eligibility:retained',
    'house:retained',
    'eligibility:one',
    'house:one',
    'eligibility:two',
    'house:two',
  ]);
  await sub.close();
  await bus.publish(TOPICS.control, [{ key: 'd', value: 'after' }]);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(seen.length, 6, 'nothing after the subscription is closed');
  await bus.close();
});

t.test('a reader that throws does not keep the record from the others', async (t) => {
  const bus = new EmbeddedBus();
  const seen: string[] = [];
  const boom = new Error('a bug in a reader');
  const sub = await followControlTopic(bus, [
    {
      onMessage: () => {
        throw boom;
      },
    },
    { onMessage: (m: { value: Buffer }) => void seen.push(m.value.toString()) },
  ]);
  await bus.publish(TOPICS.control, [{ key: 'a', value: 'one' }]);
  for (let i = 0; i < 200 && seen.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(seen, ['one'], 'the second reader got the record');
  await sub.close();
  await bus.close();
});
