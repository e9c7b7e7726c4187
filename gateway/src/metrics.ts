import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics, on a registry of its own (several gateways can live in one
 * process in tests). Served at /metrics.
 */
export function createGatewayMetrics(
  gatewayId: string,
  sizes: () => {
    connections: number;
    ready: number;
    queuedBytes: number;
    streams: number;
    controlScopes: number;
  },
) {
  const registry = new Registry();
  registry.setDefaultLabels({ gateway: gatewayId });
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    connections: new Gauge({
      name: 'gateway_connections',
      help: 'Open device connections',
      registers: [registry],
      collect() {
        this.set(sizes().connections);
      },
    }),
    ready: new Gauge({
      name: 'gateway_devices_ready',
      help: 'Devices past hello, receiving live signals',
      registers: [registry],
      collect() {
        this.set(sizes().ready);
      },
    }),
    queued: new Gauge({
      name: 'gateway_send_queue_bytes',
      help: 'Bytes queued for devices and not yet written to their sockets',
      registers: [registry],
      collect() {
        this.set(sizes().queuedBytes);
      },
    }),
    streams: new Gauge({
      name: 'gateway_streams',
      help: 'Signal streams held (one ring each); only verified records create one, up to maxStreams',
      registers: [registry],
      collect() {
        this.set(sizes().streams);
      },
    }),
    controlScopes: new Gauge({
      name: 'gateway_control_scopes',
      help: 'Control scopes held; only verified messages create one, up to maxControlScopes',
      registers: [registry],
      collect() {
        this.set(sizes().controlScopes);
      },
    }),
    relayed: new Counter({
      name: 'gateway_messages_relayed_total',
      help: 'Signal and control frames sent to devices',
      registers: [registry],
    }),
    received: new Counter({
      name: 'gateway_frames_received_total',
      help: 'Frames received from devices, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'gateway_dropped_total',
      help: 'Records and frames dropped, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    closes: new Counter({
      name: 'gateway_closes_total',
      help: 'Connections closed by the gateway, by close code',
      labelNames: ['code'],
      registers: [registry],
    }),
    lag: new Histogram({
      name: 'gateway_relay_lag_seconds',
      help: 'From a record entering the bus to its relay to devices',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
  };
  return metrics;
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
