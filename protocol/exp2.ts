import kafkajs from 'kafkajs';
import { startKafkaMock } from '@appliance/test-kit';
const m = await startKafkaMock();
const kafka = new kafkajs.Kafka({ clientId: 'exp', brokers: m.brokers, logLevel: kafkajs.logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
console.log(await admin.describeCluster());
console.log('list', await admin.listTopics());
try {
  console.log('meta', JSON.stringify(await admin.fetchTopicMetadata({ topics: ['nx'] })));
} catch (e) {
  console.log('meta err', (e as Error).name, (e as Error).message);
}
console.log('list', await admin.listTopics());
const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await p.connect();
console.log(await p.send({ topic: 'auto1', acks: -1, messages: [{ key: 'a', value: 'x' }] }));
console.log('list', await admin.listTopics());
await p.disconnect();
await admin.disconnect();
await m.stop();
