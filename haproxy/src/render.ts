import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import Handlebars from 'handlebars';
import { DEFAULT_CLUSTER, parseCluster, type Cluster } from './cluster.js';
import { ClusterError } from './errors.js';
import { haproxyFdNeed, haproxyThreads, maxConnForLimit, readFdLimit, type FdLimit } from './fd-limit.js';

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

/** What the renderer assumes of the machine HAProxy runs on; read from this process when left out. */
export interface RenderHost {
  /** The open-files limit HAProxy will have (`readFdLimit()`); `null`: unknown, nothing is checked. */
  fdLimit?: FdLimit | null;
  /** HAProxy's thread count (`haproxyThreads()`: one per CPU). */
  threads?: number;
}

/** The maxconn that goes into the config, and why. */
export interface MaxConnPlan {
  maxConn: number;
  /** True when the description left `limits.maxConn` out. */
  derived: boolean;
  /** File descriptors HAProxy will ask for with it (`haproxyFdNeed`). */
  fdNeed: number;
  fdLimit: FdLimit | null;
  /** One line: the value and why; in the rendered config's comment and on the CLI's stderr. */
  note: string;
}

/**
 * Chooses maxconn: `limits.maxConn` if given and its file descriptors fit the limit, else a
 * ClusterError naming `limits.maxConn`, the need, the limit and the fix; when not given,
 * `DEFAULT_CLUSTER.limits.maxConn` or, under a lower limit, the most the limit allows. Pure: the
 * limit and thread count are passed in.
 */
export function planMaxConn(
  cluster: Pick<Cluster, 'limits' | 'gateways'>,
  fdLimit: FdLimit | null,
  threads: number,
): MaxConnPlan {
  const gateways = cluster.gateways.length;
  const need = (maxConn: number) => haproxyFdNeed({ maxConn, gateways, threads });
  const overhead = need(0);
  const rule = `2 x maxConn + ${overhead}`;
  const fix =
    'raise the open-files limit HAProxy starts with (LimitNOFILE= in its systemd unit, or ulimit -n)';
  const given = cluster.limits.maxConn;
  if (given !== undefined) {
    const fdNeed = need(given);
    if (fdLimit && fdNeed > fdLimit.limit) {
      const most = Math.floor((fdLimit.limit - overhead) / 2);
      throw new ClusterError([
        `limits.maxConn: ${given} connections need ${fdNeed} file descriptors in HAProxy (${rule}), ` +
          `but it may have ${fdLimit.limit} (${fdLimit.source}): HAProxy would refuse to start ` +
          `("Cannot raise FD limit"), which haproxy -c does not check. Lower limits.maxConn to at most ${most}, or ${fix}`,
      ]);
    }
    return {
      maxConn: given,
      derived: false,
      fdNeed,
      fdLimit,
      note:
        `maxconn ${given}, from limits.maxConn: needs ${fdNeed} file descriptors (${rule})` +
        (fdLimit
          ? `; HAProxy may have ${fdLimit.limit} (${fdLimit.source}).`
          : '; the open-files limit is unknown here.'),
    };
  }
  const ceiling = DEFAULT_CLUSTER.limits.maxConn;
  if (!fdLimit)
    return {
      maxConn: ceiling,
      derived: true,
      fdNeed: need(ceiling),
      fdLimit,
      note: `maxconn ${ceiling}, the default (limits.maxConn is not given): needs ${need(ceiling)} file descriptors (${rule}); the open-files limit is unknown here.`,
    };
  const maxConn = maxConnForLimit({ limit: fdLimit.limit, gateways, threads, ceiling });
  if (maxConn < cluster.limits.maxConnPerSource)
    throw new ClusterError([
      `limits.maxConn: not given, and HAProxy may have only ${fdLimit.limit} file descriptors (${fdLimit.source}), ` +
        `room for ${maxConn} connections (${rule}), fewer than limits.maxConnPerSource (${cluster.limits.maxConnPerSource}): ${fix}`,
    ]);
  const note =
    maxConn === ceiling
      ? `maxconn ${maxConn}, the default (limits.maxConn is not given): needs ${need(maxConn)} file descriptors (${rule}); HAProxy may have ${fdLimit.limit} (${fdLimit.source}).`
      : `maxconn ${maxConn}, derived from the open-files limit: limits.maxConn is not given, and the default ${ceiling} ` +
        `would need ${need(ceiling)} file descriptors (${rule}), but HAProxy may have ${fdLimit.limit} (${fdLimit.source}). ` +
        `${maxConn} needs ${need(maxConn)}, with room to spare. Set limits.maxConn to choose, or ${fix}.`;
  return { maxConn, derived: true, fdNeed: need(maxConn), fdLimit, note };
}

/** `text` as comment lines of at most 92 characters, split between words; never a newline of its own. */
function commentLines(text: string, width = 92): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** What the template sees: the checked cluster plus the few values derived from it. */
function view(cluster: Cluster, plan: MaxConnPlan) {
  return {
    ...cluster,
    limits: { ...cluster.limits, maxConn: plan.maxConn },
    maxConnNote: commentLines(plan.note),
    runAs: cluster.runAs ?? false,
    bindAddress: address(cluster.bind.host, cluster.bind.port),
    scheme: cluster.tls ? 'https' : 'http',
    enrolment: cluster.enrolment
      ? {
          ...cluster.enrolment,
          bindAddress: address(cluster.enrolment.bind.host, cluster.enrolment.bind.port),
          serverAddress: address(cluster.enrolment.controlServer.host, cluster.enrolment.controlServer.port),
          stickTableType: isIP(cluster.enrolment.bind.host) === 6 ? 'ipv6' : 'ip',
        }
      : false,
    denyList: cluster.denyList ?? false,
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
 * Renders haproxy.cfg from a cluster description, with the maxconn chosen and why. A bad
 * description, or a maxConn whose file descriptors exceed the limit, throws a ClusterError
 * (`E_CLUSTER`) listing every problem; nothing is written anywhere.
 */
export function renderHaproxy(input: unknown, host: RenderHost = {}): { text: string; maxConn: MaxConnPlan } {
  const cluster = parseCluster(input);
  const fdLimit = host.fdLimit === undefined ? (readFdLimit() ?? null) : host.fdLimit;
  const plan = planMaxConn(cluster, fdLimit, host.threads ?? haproxyThreads());
  return { text: template(view(cluster, plan)), maxConn: plan };
}

/** Renders haproxy.cfg from a cluster description (`renderHaproxy` without the plan). */
export function renderHaproxyConfig(input: unknown, host: RenderHost = {}): string {
  return renderHaproxy(input, host).text;
}
