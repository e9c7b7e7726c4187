/**
 * Worker process: the server under test (our gateway or the bare ws broadcast server) on the
 * embedded or the Kafka bus. With the embedded bus the publisher has to live here too, since
 * that bus is in-process; with Kafka the orchestrator publishes, as a datafeed would.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { EmbeddedBus, KeyRing, type Bus } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { createGateway, type Gateway } from '@appliance/gateway';
import { startBareServer, type BareServer } from './bare-ws-server.js';
import { serve } from './ipc.js';
import { now } from './clock.js';
import { Publisher, type PublishRange } from './publisher.js';

export interface ServerStart {
  server: 'gateway' | 'bare';
  bus: { kind: 'embedded' } | { kind: 'kafka'; brokers: string[]; fetchMaxWaitMs: number };
  /** The control server's token public key (base64url) the gateway pins. */
  tokenKey: string;
  /** The feed's public key (base64url) the gateway pins: it relays only signals signed with it. */
  signalKey: string;
  stream: string;
  /** The pre-signed signals, for the in-process publisher of the embedded bus. */
  signals: string[];
  /** The gateway expects a PROXY v2 header on every connection (behind HAProxy's send-proxy-v2). */
  proxyProtocol?: boolean;
}

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn', name: 'bench-server' });
let bus: Bus | undefined;
let gateway: Gateway | undefined;
let bare: BareServer | undefined;
let publisher: Publisher | undefined;

const api = {
  async start(o: ServerStart): Promise<{ url: string }> {
    if (bus) throw new Error('already started');
    bus =
      o.bus.kind === 'embedded'
        ? new EmbeddedBus()
        : createKafkaBus({
            brokers: o.bus.brokers,
            clientId: `bench-${o.server}`,
            idempotent: false,
            fetchMaxWaitMs: o.bus.fetchMaxWaitMs,
            logger,
          });
    if (o.bus.kind === 'embedded') publisher = new Publisher(bus, o.signals);
    if (o.server === 'gateway') {
      gateway = await createGateway({
        bus,
        tokenKeys: KeyRing.of(o.tokenKey),
        signalKeys: KeyRing.of(o.signalKey),
        logger,
        options: { proxyProtocol: o.proxyProtocol === true },
      });
      return { url: await gateway.listen(0, '127.0.0.1') };
    }
    bare = await startBareServer(bus, o.stream);
    return { url: bare.url };
  },
  publish(range: PublishRange): Promise<number[]> {
    if (!publisher) throw new Error('this server has no in-process publisher (not the embedded bus)');
    return publisher.publish(range);
  },
  /**
   * A full garbage collection, so an RSS reading that follows holds live memory rather than
   * whatever garbage the last step left; the worker is not started with --expose-gc, so the
   * collector is fetched through V8's flags.
   */
  gc(): void {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  },
  /** CPU time this process has used, in µs (user + system). */
  cpu(): number {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  now(): number {
    return now();
  },
  stats(): { relayed: number; dropped: number; connections: number } | null {
    if (!gateway) return null;
    const s = gateway.stats();
    return { relayed: s.relayed, dropped: s.dropped, connections: s.connections };
  },
  async stop(): Promise<void> {
    await gateway?.close();
    await bare?.close();
    await bus?.close();
  },
};

export type ServerApi = typeof api;

process.on('unhandledRejection', (err) => {
  console.error('bench server: unhandled rejection', err);
  process.exit(1);
});
serve(api);
