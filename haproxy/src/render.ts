import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import Handlebars from 'handlebars';
import { parseCluster, type Cluster } from './cluster.js';

/** The template ships next to this file; read once, when the module loads. */
const TEMPLATE_FILE = new URL('./haproxy.cfg.hbs', import.meta.url);

/**
 * An isolated Handlebars instance: no helpers registered elsewhere can change our output.
 * noEscape because this is not HTML (the values are checked by the schema instead); strict so a
 * field missing from the view is an error, not an empty string in the config.
 */
const template = Handlebars.create().compile(readFileSync(TEMPLATE_FILE, 'utf8'), {
  noEscape: true,
  strict: true,
});

/** HAProxy reads the last colon as the port separator, so IPv6 addresses need brackets. */
function address(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What the template sees: the checked cluster plus the few values derived from it. */
function view(cluster: Cluster) {
  return {
    ...cluster,
    runAs: cluster.runAs ?? false,
    bindAddress: address(cluster.bind.host, cluster.bind.port),
    // An `ip` table only holds IPv4 sources; an IPv6 listener needs `ipv6`, or its clients
    // would never be tracked and so never limited.
    stickTableType: isIP(cluster.bind.host) === 6 ? 'ipv6' : 'ip',
    // Per server, so the template needs no `../` (which Prettier's Handlebars parser rejects).
    servers: cluster.gateways.map((g) => ({
      name: g.name,
      address: address(g.host, g.port),
      checkIntervalMs: cluster.timeouts.healthCheckIntervalMs,
      sendProxyV2: cluster.proxyProtocol,
    })),
  };
}

/**
 * Renders haproxy.cfg from a cluster description. A bad description throws a ClusterError
 * (`E_CLUSTER`) listing every problem; nothing is written anywhere.
 */
export function renderHaproxyConfig(cluster: unknown): string {
  return template(view(parseCluster(cluster)));
}
