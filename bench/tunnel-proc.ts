/**
 * Worker process of the tunnel suite, started inside a namespace (ipc.ts spawnWorker with a netns): in the hub
 * it creates enrolment tokens on the control server's admin API (on the hub's loopback) and
 * publishes records on the hub's Kafka; in the load namespace it enrols devices concurrently over
 * HTTPS, through HAProxy's enrolment frontend, trusting only the ticket's pinned certificate.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import {
  TOPIC_PARTITIONS,
  decodeEnrolmentTicket,
  exportPublicKey,
  generateSigner,
  signDeviceRequest,
  type EnrolRequest,
} from '@appliance/protocol';
import { createKafkaBus, type KafkaBus } from '@appliance/protocol/kafka';
import { generateWgKeyPair } from '@appliance/wireguard';
import { now } from './clock.js';
import { serve } from './ipc.js';

let bus: KafkaBus | undefined;

/** One enrolment's outcome: latency from the TCP connect to the answer, and the status. */
export interface EnrolOutcome {
  startedAt: number;
  ms: number;
  status: number;
  error?: string;
}

/**
 * POSTs JSON to `url` over TLS, trusting exactly the certificate whose SHA-256 (DER) is `pin`:
 * the pin is checked on the connected socket before the request is written, as the device does.
 */
function postPinned(url: string, pin: string, path: string, body: unknown, timeoutMs: number) {
  const u = new URL(url);
  const payload = JSON.stringify(body);
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const socket: TLSSocket = connect({
      host: u.hostname,
      port: Number(u.port || 443),
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      const got = cert ? createHash('sha256').update(cert.raw).digest('hex') : '';
      if (got !== pin) {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`certificate ${got} is not the pinned ${pin}`));
        return;
      }
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          createConnection: () => socket,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            clearTimeout(timer);
            socket.destroy();
            resolve({ status: res.statusCode ?? 0, text });
          });
        },
      );
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
  });
}

const api = {
  /** `POST /api/enrolments` for each id, `concurrency` at a time; returns the tokens in order. */
  async createEnrolments(o: {
    apiUrl: string;
    adminToken: string;
    ids: string[];
    scope: string;
    concurrency: number;
  }): Promise<string[]> {
    const out: string[] = new Array<string>(o.ids.length);
    let next = 0;
    const one = async () => {
      for (let i = next++; i < o.ids.length; i = next++) {
        const res = await fetch(new URL('/api/enrolments', o.apiUrl), {
          method: 'POST',
          headers: { authorization: `Bearer ${o.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id: o.ids[i], scope: o.scope }),
        });
        const text = await res.text();
        if (res.status !== 201) throw new Error(`POST /api/enrolments ${o.ids[i]}: ${res.status} ${text}`);
        out[i] = (JSON.parse(text) as { token: string }).token;
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.ids.length) }, one));
    return out;
  },

  /**
   * Enrols one device per token, `concurrency` at a time, each over a fresh TLS connection. Keys
   * and signed requests are made before the clock starts: the figure is the server side's (TLS,
   * HAProxy, the control server's transaction and its `wg set`), not key generation.
   */
  async enrolAll(o: {
    tokens: string[];
    concurrency: number;
    timeoutMs: number;
  }): Promise<{ outcomes: EnrolOutcome[]; wallMs: number }> {
    const prepared = o.tokens.map((token) => {
      const ticket = decodeEnrolmentTicket(token);
      const signer = generateSigner();
      const wg = generateWgKeyPair();
      return {
        ticket,
        body: signDeviceRequest<EnrolRequest>(
          {
            typ: 'enrol',
            tokenId: ticket.id,
            secret: ticket.secret,
            wgPublicKey: wg.publicKey,
            devicePublicKey: exportPublicKey(signer.publicKey),
          },
          signer,
          Date.now(),
        ),
      };
    });
    const outcomes: EnrolOutcome[] = new Array<EnrolOutcome>(prepared.length);
    let next = 0;
    const one = async () => {
      for (let i = next++; i < prepared.length; i = next++) {
        const { ticket, body } = prepared[i]!;
        const startedAt = now();
        try {
          const r = await postPinned(ticket.url, ticket.pin, '/enrol', body, o.timeoutMs);
          outcomes[i] = {
            startedAt,
            ms: now() - startedAt,
            status: r.status,
            ...(r.status === 200 ? {} : { error: r.text.slice(0, 300) }),
          };
        } catch (err) {
          outcomes[i] = { startedAt, ms: now() - startedAt, status: 0, error: (err as Error).message };
        }
      }
    };
    const t0 = now();
    await Promise.all(Array.from({ length: Math.min(o.concurrency, prepared.length) }, one));
    return { outcomes, wallMs: now() - t0 };
  },

  /** Publishes pre-signed records on the hub's Kafka (the bus is made on first use). */
  async publish(o: { brokers: string; topic: string; records: { key: string; value: string }[] }) {
    if (!bus) {
      bus = createKafkaBus({ brokers: o.brokers.split(','), clientId: 'bench-tunnel' });
      for (const [topic, n] of Object.entries(TOPIC_PARTITIONS)) await bus.ensureTopic(topic, n);
    }
    await bus.publish(o.topic, o.records);
    return { published: o.records.length, at: now() };
  },

  now(): number {
    return now();
  },
};

export type TunnelProcApi = typeof api;

process.on('unhandledRejection', (err) => {
  console.error('bench tunnel worker: unhandled rejection', err);
  process.exit(1);
});
serve(api);
