/**
 * TLS and SASL/SCRAM reach kafkajs. librdkafka's mock cluster has neither, so: the config the
 * bus hands kafkajs is inspected through the `createClient` seam, and a fake broker behind a
 * real TLS socket (a throwaway certificate) watches what kafkajs does with it on the wire: the
 * handshake against the pinned CA, then SCRAM with the username and never the password.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import t from 'tap';
import kafkajs from 'kafkajs';
import type { KafkaConfig } from 'kafkajs';
import { makeTestCert, requireTool } from '@appliance/test-kit';
import { createKafkaBus, type KafkaBusOptions } from '../src/kafka/index.js';

const PASSWORD = 'hunter2-correct-horse';

t.test('the TLS and SASL options reach the kafkajs client config, and only when given', async (t) => {
  const configs: KafkaConfig[] = [];
  const capture = (config: KafkaConfig) => {
    configs.push(config);
    return new kafkajs.Kafka(config);
  };
  const sasl = { mechanism: 'scram-sha-512', username: 'gateway-1', password: PASSWORD } as const;
  const ssl = { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM', rejectUnauthorized: true };
  createKafkaBus({ brokers: ['b1:9093'], clientId: 'secure', ssl, sasl, createClient: capture });
  createKafkaBus({ brokers: ['b1:9093'], clientId: 'system-cas', ssl: true, createClient: capture });
  createKafkaBus({ brokers: ['b1:9092'], clientId: 'plain', createClient: capture });
  t.match(configs[0], { clientId: 'secure', brokers: ['b1:9093'], ssl, sasl });
  t.not(configs[0]!.sasl, sasl, 'a copy: kafkajs adds its authenticator to the object it is given');
  t.equal(configs[1]!.ssl, true);
  t.notOk('ssl' in configs[2]! || 'sasl' in configs[2]!, 'plaintext without them');
});

t.test(
  'on the wire: TLS with the pinned CA, then SCRAM with the username and not the password',
  async (t) => {
    if (!requireTool('openssl', 'openssl'))
      return t.comment('openssl is not installed: apt-get install openssl');
    const dir = mkdtempSync(join(tmpdir(), 'kafka-tls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const broker = makeTestCert(dir);
    const strangerDir = mkdtempSync(join(dir, 'other-'));
    const stranger = makeTestCert(strangerDir);
    const fake = await fakeBroker(readFileSync(broker.pemFile, 'utf8'));
    t.teardown(() => fake.close());

    const options = (ca: string): KafkaBusOptions => ({
      brokers: [`localhost:${fake.port}`],
      clientId: 'tls-test',
      ssl: { ca },
      sasl: { mechanism: 'scram-sha-512', username: 'gateway-1', password: PASSWORD },
      retry: { retries: 0 },
      requestTimeoutMs: 3_000,
    });

    // A CA that did not sign the broker's certificate: refused before a byte of Kafka is sent.
    const wrong = createKafkaBus(options(stranger.certPem));
    t.teardown(() => wrong.close());
    const refused = await wrong.ensureTopic('x', 1).then(
      () => 'connected',
      (err: Error) => String(err.message),
    );
    t.match(refused, /self[- ]signed certificate/);
    t.equal(fake.requests.length, 0, 'nothing reached the broker');

    const right = createKafkaBus(options(broker.certPem));
    t.teardown(() => right.close());
    await right.ensureTopic('x', 1).catch(() => {}); // the fake broker hangs up after SCRAM's first message
    t.same(fake.servernames, ['localhost'], 'SNI names the broker');
    t.same(
      fake.requests.map((r) => r.apiKey),
      [18, 17, 36],
      'ApiVersions, SaslHandshake and SaslAuthenticate, all inside TLS',
    );
    t.equal(fake.requests[1]!.body.subarray(2).toString(), 'SCRAM-SHA-512');
    const clientFirst = fake.requests[2]!.body.toString('latin1');
    t.match(clientFirst, /n,,n=gateway-1,r=/, "SCRAM's client-first message names the principal");
    t.notMatch(Buffer.concat(fake.requests.map((r) => r.body)).toString('latin1'), PASSWORD);
  },
);

interface KafkaRequest {
  apiKey: number;
  apiVersion: number;
  body: Buffer;
}

/**
 * Just enough of a Kafka broker to take a client through ApiVersions and SaslHandshake; it
 * hangs up on the first SaslAuthenticate, since SCRAM's next step would need the password.
 */
async function fakeBroker(pem: string) {
  const requests: KafkaRequest[] = [];
  const servernames: string[] = [];
  const server = createServer({ key: pem, cert: pem }, (socket: TLSSocket) => {
    servernames.push(String((socket as TLSSocket & { servername?: string }).servername));
    let buffered = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        const apiKey = frame.readInt16BE(0);
        const apiVersion = frame.readInt16BE(2);
        const correlationId = frame.readInt32BE(4);
        const clientIdLength = frame.readInt16BE(8);
        const body = frame.subarray(10 + Math.max(clientIdLength, 0));
        requests.push({ apiKey, apiVersion, body });
        if (apiKey === 18) respond(socket, correlationId, apiVersions());
        else if (apiKey === 17) respond(socket, correlationId, mechanisms(body.subarray(2).toString()));
        else socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    requests,
    servernames,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function respond(socket: TLSSocket, correlationId: number, body: Buffer): void {
  const header = Buffer.alloc(8);
  header.writeInt32BE(4 + body.length, 0);
  header.writeInt32BE(correlationId, 4);
  socket.write(Buffer.concat([header, body]));
}

/** ApiVersions: error 0, then (key, min, max) for ApiVersions, SaslHandshake, SaslAuthenticate, Metadata; throttle 0. */
function apiVersions(): Buffer {
  const apis = [
    [18, 0, 2],
    [17, 0, 1],
    [36, 0, 1],
    [3, 0, 5],
  ];
  const b = Buffer.alloc(2 + 4 + apis.length * 6 + 4);
  b.writeInt32BE(apis.length, 2);
  apis.forEach(([key, min, max], i) => {
    b.writeInt16BE(key!, 6 + i * 6);
    b.writeInt16BE(min!, 8 + i * 6);
    b.writeInt16BE(max!, 10 + i * 6);
  });
  return b;
}

/** SaslHandshake: error 0 and the one mechanism asked for. */
function mechanisms(mechanism: string): Buffer {
  const b = Buffer.alloc(2 + 4 + 2 + mechanism.length);
  b.writeInt32BE(1, 2);
  b.writeInt16BE(mechanism.length, 6);
  b.write(mechanism, 8, 'latin1');
  return b;
}
