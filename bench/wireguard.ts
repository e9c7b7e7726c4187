/**
 * DESIGN's WireGuard figure: adding, revoking or rotating one of 1,000 peers in under 100 ms,
 * disturbing none. A concentrator namespace with 1,000 configured peers (one `wg syncconf`), three
 * of them live wireguard-go devices in namespaces of their own, each sending a datagram through
 * the tunnel every 10 ms to an echo on the hub. Timed: one `wg set` per change (addPeer,
 * removePeer, swapPeer), beside rebuilding the whole peer map (render 1,000 peers, `wg-quick
 * strip`, `wg syncconf`) for the same change; and the gaps the live devices saw meanwhile.
 *
 *   npm run bench -- --only wireguard [--wg-peers 1000] [--wg-repeats 20] [--wg-interval-ms 10]
 *
 * Needs root, iproute2, wireguard-tools and wireguard-go (as wireguard/test/live.test.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connectVeth,
  createNetns,
  requireNetnsTools,
  startUdpEcho,
  startUdpStream,
  udpReachable,
  uniqueIfName,
  waitFor,
  type Netns,
  type UdpStream,
  type UdpStreamResult,
} from '@appliance/test-kit';
import {
  allocateAddress,
  bringDown,
  bringUp,
  generateWgKeyPair,
  hostAt,
  parseCidr,
  renderConcentratorConf,
  renderDeviceConf,
  stripWgConf,
  type WgInterface,
} from '@appliance/wireguard';
import { median, ratio, round, summarize, type Summary } from './stats.js';
import type { Suite } from './suite.js';
import { fmt, formatTable } from './table.js';

const DEFAULT_PEERS = 1_000;
const DEFAULT_REPEATS = 20;
const DEFAULT_INTERVAL_MS = 10;
const LIVE = 3;
const SUBNET = '10.77.0.0/16';
const HUB = '10.77.0.1';
const PORT = 51820;
const ECHO = 7000;
/** DESIGN's bound on a change, and on the gap a live peer may see. */
const TARGET_MS = 100;

interface Peer {
  id: string;
  publicKey: string;
  address: string;
}

/** Milliseconds of `fn`, by the wall clock (it waits on child processes). */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const ms = (s: Summary) => ({ p50: round(s.p50), p99: round(s.p99), max: round(s.max), count: s.count });

/** What a live device saw in a window of the run: datagrams sent in it and lost, and the widest gap between answers. */
function window(result: UdpStreamResult, from: number, to: number) {
  const inside = result.replies.filter(([, at]) => at >= from && at <= to);
  // The gap into the window counts too: the first answer after `from` may have been held up.
  const before = result.replies.filter(([, at]) => at < from).at(-1);
  const times = [...(before ? [before[1]] : []), ...inside.map(([, at]) => at)];
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const lost = result.lost.filter((seq) => {
    const at = result.sentAtMs[seq]!;
    return at >= from && at <= to;
  }).length;
  return { answers: inside.length, lost, maxGapMs: round(gaps.length ? Math.max(...gaps) : 0) };
}

export const wireguardSuite: Suite = {
  name: 'wireguard',
  description:
    'WireGuard hub with 1,000 peers (3 live in namespaces): add/revoke/rotate one peer with wg set vs re-rendering the whole map and wg syncconf, and the gaps the live peers saw',
  options: {
    'wg-peers': { type: 'string' },
    'wg-repeats': { type: 'string' },
    'wg-interval-ms': { type: 'string' },
  },
  async run(ctx) {
    const peersWanted = Number(ctx.options['wg-peers'] ?? DEFAULT_PEERS);
    const repeats = Number(ctx.options['wg-repeats'] ?? DEFAULT_REPEATS);
    const intervalMs = Number(ctx.options['wg-interval-ms'] ?? DEFAULT_INTERVAL_MS);
    for (const [name, v] of [
      ['wg-peers', peersWanted],
      ['wg-repeats', repeats],
      ['wg-interval-ms', intervalMs],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
    if (peersWanted < LIVE + 1) throw new Error(`--wg-peers must be at least ${LIVE + 1}`);
    const missing = requireNetnsTools({
      wg: 'wireguard-tools',
      'wg-quick': 'wireguard-tools',
      'wireguard-go': 'wireguard-go',
    });
    if (missing) {
      ctx.log(`wireguard: skipped: ${missing}`);
      return { report: { skipped: missing }, table: [`wireguard: skipped: ${missing}`] };
    }

    const dir = await mkdtemp(join(tmpdir(), 'bench-wg-'));
    const namespaces: Netns[] = [];
    const tunnels: { name: string; netns: string }[] = [];
    const streams: UdpStream[] = [];
    try {
      const pool = parseCidr(SUBNET);
      const hubNs = await createNetns('bwg-hub');
      namespaces.push(hubNs);
      const hubKey = generateWgKeyPair();
      const live = await Promise.all(
        Array.from({ length: LIVE }, async (_, k) => {
          const i = k + 1;
          const ns = await createNetns(`bwg-dev${i}`);
          namespaces.push(ns);
          await connectVeth(ns, hubNs, `172.31.${i}.2/24`, `172.31.${i}.1/24`);
          const key = generateWgKeyPair();
          return {
            i,
            ns,
            key,
            peer: { id: `live-${i}`, publicKey: key.publicKey, address: hostAt(pool, i) },
          };
        }),
      );
      // The other peers exist only as keys: configured on the hub, never connecting.
      const peers: Peer[] = live.map((l) => l.peer);
      for (let i = LIVE + 1; i <= peersWanted; i++) {
        const key = generateWgKeyPair();
        peers.push({
          id: `device-${String(i).padStart(5, '0')}`,
          publicKey: key.publicKey,
          address: hostAt(pool, i),
        });
      }
      const used = new Set(peers.map((p) => p.address));
      let cursor = peersWanted + 1;
      const hubConf = (list: Peer[]) =>
        renderConcentratorConf({
          subnet: SUBNET,
          listenPort: PORT,
          privateKey: hubKey.privateKey,
          devices: list,
        });

      // The hub starts with no peer, then gets all of them in one syncconf.
      const hubName = uniqueIfName('bwgh');
      const hubFile = join(dir, `${hubName}.conf`);
      await writeFile(hubFile, hubConf([]), { mode: 0o600 });
      tunnels.push({ name: hubName, netns: hubNs.name });
      const hub: WgInterface = await bringUp({ confFile: hubFile, netns: hubNs.name });
      const initialSyncMs = await timed(() => hub.syncConf(hubConf(peers)));
      const configured = (await hub.peers()).length;
      if (configured !== peersWanted) throw new Error(`hub has ${configured} peers, not ${peersWanted}`);
      ctx.log(`wireguard: hub up with ${configured} peers (one syncconf: ${initialSyncMs.toFixed(1)} ms)`);

      for (const l of live) {
        const name = uniqueIfName(`bwgd${l.i}`);
        const file = join(dir, `${name}.conf`);
        await writeFile(
          file,
          renderDeviceConf({
            id: l.peer.id,
            address: l.peer.address,
            subnet: SUBNET,
            privateKey: l.key.privateKey,
            concentrator: { publicKey: hubKey.publicKey, endpoint: { host: `172.31.${l.i}.1`, port: PORT } },
          }),
          { mode: 0o600 },
        );
        tunnels.push({ name, netns: l.ns.name });
        await bringUp({ confFile: file, netns: l.ns.name });
      }
      await startUdpEcho(hubNs, ECHO);
      for (const l of live)
        await waitFor(() => udpReachable(l.ns, HUB, ECHO, 1000), `live device ${l.i} reaching the hub`);
      for (const l of live) streams.push(await startUdpStream(l.ns, HUB, ECHO, intervalMs));
      const handshakes = async () =>
        new Map(
          (await hub.peers())
            .filter((p) => live.some((l) => l.key.publicKey === p.publicKey))
            .map((p) => [p.publicKey, p.latestHandshakeMs]),
        );
      const handshakesBefore = await handshakes();
      const baselineFrom = Date.now();
      await new Promise((r) => setTimeout(r, 1000));
      const baselineTo = Date.now();

      // Per peer: one wg set each.
      const perPeerFrom = Date.now();
      const add: number[] = [];
      const remove: number[] = [];
      const swap: number[] = [];
      const spare = peers.slice(LIVE); // rotated in turn, never a live one
      for (let r = 0; r < repeats; r++) {
        const fresh = generateWgKeyPair();
        const got = allocateAddress(pool, used, cursor);
        if (!got) throw new Error('tunnel pool full');
        cursor = got.cursor;
        add.push(await timed(() => hub.addPeer(fresh.publicKey, got.address)));
        remove.push(await timed(() => hub.removePeer(fresh.publicKey)));
        const target = spare[r % spare.length]!;
        const rotated = generateWgKeyPair();
        swap.push(await timed(() => hub.swapPeer(target.publicKey, rotated.publicKey, target.address)));
        target.publicKey = rotated.publicKey;
      }
      const perPeerTo = Date.now();
      const peersAfterPerPeer = (await hub.peers()).length;
      if (peersAfterPerPeer !== peersWanted)
        throw new Error(
          `after the per-peer changes the hub has ${peersAfterPerPeer} peers, not ${peersWanted}`,
        );

      // The whole map instead: the same kind of change, applied by re-rendering every peer and
      // reconciling with syncconf (as the other peers' control planes do).
      const rebuildFrom = Date.now();
      const rebuild: number[] = [];
      const renderOnly: number[] = [];
      const stripOnly: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const target = spare[r % spare.length]!;
        target.publicKey = generateWgKeyPair().publicKey;
        let text = '';
        renderOnly.push(await timed(async () => void (text = hubConf(peers))));
        rebuild.push(renderOnly.at(-1)! + (await timed(() => hub.syncConf(text))));
        // The share of wg-quick strip (a bash loop over every line), timed apart, off the hub.
        stripOnly.push(await timed(() => stripWgConf(text)));
      }
      const rebuildTo = Date.now();
      await new Promise((r) => setTimeout(r, 300));
      const handshakesAfter = await handshakes();
      const results = [];
      for (const s of streams.splice(0)) results.push(await s.stop());

      const addS = summarize(add);
      const removeS = summarize(remove);
      const swapS = summarize(swap);
      const rebuildS = summarize(rebuild);
      const renderS = summarize(renderOnly);
      const stripS = summarize(stripOnly);
      const liveReport = results.map((res, k) => {
        const baseline = window(res, baselineFrom, baselineTo);
        const base = res.replies
          .filter(([, at]) => at >= baselineFrom && at <= baselineTo)
          .map(([, at]) => at);
        return {
          device: live[k]!.peer.id,
          sent: res.sent,
          lost: res.lost.length,
          normalGapMs: round(median(base.slice(1).map((t, i) => t - base[i]!))),
          baselineMaxGapMs: baseline.maxGapMs,
          perPeerChanges: window(res, perPeerFrom, perPeerTo),
          rebuilds: window(res, rebuildFrom, rebuildTo),
          handshakeUnchanged:
            handshakesBefore.get(live[k]!.key.publicKey) === handshakesAfter.get(live[k]!.key.publicKey),
        };
      });
      const worstPerPeerGap = Math.max(...liveReport.map((l) => l.perPeerChanges.maxGapMs));
      const worstRebuildGap = Math.max(...liveReport.map((l) => l.rebuilds.maxGapMs));
      const report = {
        peers: peersWanted,
        live: LIVE,
        repeats,
        intervalMs,
        initialSyncconfMs: round(initialSyncMs),
        addPeerMs: ms(addS),
        removePeerMs: ms(removeS),
        swapPeerMs: ms(swapS),
        rebuildMs: ms(rebuildS),
        rebuildRenderOnlyMs: ms(renderS),
        rebuildStripOnlyMs: ms(stripS),
        rebuildOverAddP50: ratio(rebuildS.p50, addS.p50),
        rebuildOverSwapP50: ratio(rebuildS.p50, swapS.p50),
        livePeers: liveReport,
        targetMs: TARGET_MS,
        withinTarget:
          Math.max(addS.p99, removeS.p99, swapS.p99) < TARGET_MS &&
          worstPerPeerGap < TARGET_MS &&
          liveReport.every((l) => l.perPeerChanges.lost === 0 && l.handshakeUnchanged),
      };
      const table = [
        `wireguard: ${peersWanted} peers on the hub, ${LIVE} live sending every ${intervalMs} ms; ${repeats} changes each (ms)`,
        ...formatTable(
          ['change', 'p50', 'p99', 'max'],
          [
            ['addPeer (wg set)', fmt(addS.p50), fmt(addS.p99), fmt(addS.max)],
            ['removePeer (wg set)', fmt(removeS.p50), fmt(removeS.p99), fmt(removeS.max)],
            ['swapPeer (one wg set)', fmt(swapS.p50), fmt(swapS.p99), fmt(swapS.max)],
            [
              `rebuild: render ${peersWanted} + syncconf`,
              fmt(rebuildS.p50),
              fmt(rebuildS.p99),
              fmt(rebuildS.max),
            ],
            ['  of which render', fmt(renderS.p50), fmt(renderS.p99), fmt(renderS.max)],
            ['  of which wg-quick strip', fmt(stripS.p50), fmt(stripS.p99), fmt(stripS.max)],
          ],
        ),
        `rebuild / addPeer (p50): ${fmt(report.rebuildOverAddP50)}x; initial syncconf of ${peersWanted} peers: ${fmt(initialSyncMs)} ms`,
        ...formatTable(
          [
            'live peer',
            'sent',
            'lost',
            'lost per-peer',
            'lost rebuild',
            'normal gap',
            'max gap idle',
            'max gap per-peer',
            'max gap rebuild',
            'handshake kept',
          ],
          liveReport.map((l) => [
            l.device,
            l.sent,
            l.lost,
            l.perPeerChanges.lost,
            l.rebuilds.lost,
            fmt(l.normalGapMs),
            fmt(l.baselineMaxGapMs),
            fmt(l.perPeerChanges.maxGapMs),
            fmt(l.rebuilds.maxGapMs),
            l.handshakeUnchanged ? 'yes' : 'NO',
          ]),
        ),
        `target for per-peer changes (p99 < ${TARGET_MS} ms, gaps < ${TARGET_MS} ms, nothing lost, no session renewed): ${report.withinTarget ? 'met' : 'NOT met'}` +
          `; worst gap during per-peer changes ${fmt(worstPerPeerGap)} ms, during rebuilds ${fmt(worstRebuildGap)} ms`,
      ];
      return { report, table };
    } finally {
      for (const s of streams) await s.stop().catch(() => undefined);
      for (const t of tunnels) await bringDown(t).catch(() => undefined);
      for (const ns of namespaces) await ns.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
