import { startKafkaMock } from '@appliance/test-kit';
import { createKafkaBus } from './src/kafka-bus.js';
const m = await startKafkaMock();
const logger = {
  warn: (o: object, s: string) => console.log('WARN', s, JSON.stringify(o).slice(0, 300)),
  error: (o: object, s: string) => console.log('ERR', s, JSON.stringify(o).slice(0, 300)),
};
const bus = createKafkaBus({ brokers: m.brokers, clientId: 'exp', idempotent: false, logger });
console.log('start');
await bus.ensureTopic('t', 3);
console.log('ensured');
let n = 0;
const sub = await bus.subscribe({
  topic: 't',
  from: 'earliest',
  onMessage: () => {
    n++;
  },
});
console.log('subscribed');
await sub.ready;
console.log('ready');
let t = Date.now();
const keys = Array.from({ length: 20 }, (_, k) => `key-${k}`);
for (let i = 0; i < 50; i++) {
  console.log('pub', i, Date.now() - t);
  await bus.publish(
    't',
    keys.map((key) => ({ key, value: `${key}:${i}` })),
  );
}
console.log('published', Date.now() - t);
const iv = setInterval(() => console.log('got', n, Date.now() - t), 1000);
while (n < 1000 && Date.now() - t < 20000) await new Promise((r) => setTimeout(r, 50));
clearInterval(iv);
console.log('done', n);
t = Date.now();
await bus.close();
console.log('close', Date.now() - t);
await m.stop();
