import { startKafkaMock } from '@appliance/test-kit';
import { createKafkaBus } from './src/kafka-bus.js';
const m = await startKafkaMock();
const logger = {
  warn: (o: object, s: string) => console.log('WARN', s, JSON.stringify(o).slice(0, 300)),
  error: (o: object, s: string) => console.log('ERR', s, JSON.stringify(o).slice(0, 300)),
};
const bus = createKafkaBus({ brokers: m.brokers, clientId: 'exp', idempotent: false, logger });
let t = Date.now();
await bus.ensureTopic('t', 3);
console.log('ensureTopic', Date.now() - t);
t = Date.now();
await bus.publish('t', [{ key: 'a', value: 'one' }]);
console.log('first publish', Date.now() - t);
t = Date.now();
const got: string[] = [];
const sub = await bus.subscribe({
  topic: 't',
  from: 'earliest',
  onMessage: (msg) => {
    got.push(`${msg.partition}@${msg.offset}:${msg.value}`);
  },
});
console.log('subscribe', Date.now() - t);
t = Date.now();
await sub.ready;
console.log('ready', Date.now() - t);
t = Date.now();
await bus.publish('t', [{ key: 'b', value: 'two' }]);
while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
console.log('latency', Date.now() - t, got);
const cpu0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, 2000));
const cpu = process.cpuUsage(cpu0);
console.log('idle cpu ms/2s', (cpu.user + cpu.system) / 1000);
t = Date.now();
await bus.close();
console.log('close', Date.now() - t);
await m.stop();
