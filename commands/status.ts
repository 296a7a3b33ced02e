import { findAgent, RemoteOperations, readToken } from '../src/admin/index.ts';
import type { AgentStatus } from '../src/agent/index.ts';
import { BaseCommand, configFlag, dataDirFlag } from '../src/cli/index.ts';
import { formatBytes } from '../src/config/index.ts';
import type { ControllerStatus } from '../src/controller/index.ts';
import { AgentNotRunningError } from '../src/errors/index.ts';
import { formatRate } from '../src/qos/index.ts';

export default class Status extends BaseCommand {
  static override description =
    `Show the running agent's state: objects, peers, transfer figures, cache, trackers and IMS registration (with a controller's data dir: its edges, fetches and what it served).
Exit code 0 if an agent (or controller) runs on the data dir, 7 if none does.`;

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json | jq .trackers'];

  static override flags = { config: configFlag, 'data-dir': dataDirFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(Status);
    const agent = await findAgent(flags['data-dir']);
    if (!agent) {
      throw new AgentNotRunningError(`no agent runs on ${flags['data-dir']} (no live agent.json there)`, {
        subject: flags['data-dir'],
      });
    }
    const remote = new RemoteOperations(agent.adminUrl, await readToken(agent.tokenFile));
    try {
      const status = (await remote.status()) as AgentStatus | ControllerStatus;
      const text = 'role' in status ? renderController(agent.pid, status) : render(agent.pid, status);
      this.emit({ pid: agent.pid, startedAt: agent.startedAt, ...status }, text);
    } finally {
      await remote.close();
    }
  }
}

/** The background scrub in a line: its state, the pass under way (how far) or the last one, what it found. */
function scrubLine(scrub: NonNullable<AgentStatus['scrub']>): string {
  if (scrub.state === 'off') return 'off';
  const rate = `${formatBytes(scrub.bytesPerSecond)}/s${scrub.window ? ` in ${scrub.window}` : ''}`;
  const pass = scrub.current
    ? `pass at ${formatBytes(scrub.current.bytesChecked)} of ${formatBytes(scrub.current.bytesTotal)}`
    : scrub.last
      ? `last pass finished ${new Date(scrub.last.finishedAt ?? 0).toISOString()}`
      : 'no pass yet';
  return `${scrub.state}, ${rate}, ${pass}, ${scrub.passes} passes, ${scrub.corruptPieces} corrupt pieces found`;
}

/** Egress limits in a line: the global limit, what is being sent, what waited and what was shed. */
function qosLine(q: AgentStatus['qos']): string {
  const limit = q.active ? `limit ${q.effectiveRate === 0 ? 'none' : formatRate(q.effectiveRate)}` : 'no limits';
  const sending = formatRate(q.currentRates.wire + q.currentRates.http + q.currentRates.https);
  const shed = q.shedding.shed.wire + q.shedding.shed.http + q.shedding.shed.https;
  const shedding = q.shedding.active === null ? '' : `, SHEDDING (${q.shedding.active})`;
  return `${limit}, sending ${sending}, ${q.delayedSends} sends delayed, ${shed} requests shed${shedding} (edgepeer qos)`;
}

function render(pid: number, s: AgentStatus): string {
  const lines = [
    `agent       pid ${pid}, store ${s.dataDir}`,
    `objects     ${s.objects} (${s.objectsComplete} complete)`,
    `peer wire   port ${s.addresses.peerPort}, ${s.wire.connections} peers (${s.wire.unchoked} unchoked), ${formatBytes(s.wire.uploadedBytes)} sent, ${s.wire.requestsRejected} requests rejected`,
    `http        ${s.addresses.httpBaseUrls.join(' ') || 'off'}${s.http ? `, ${s.http.requests} requests, ${formatBytes(s.http.bytesSent)} sent` : ''}`,
    ...(s.https && s.addresses.httpsPort !== null
      ? [
          `https       port ${s.addresses.httpsPort}, ${s.https.requests} requests, ${formatBytes(s.https.bytesSent)} sent`,
        ]
      : []),
    `cache       ${formatBytes(s.cache.bytes)} of ${formatBytes(s.cache.maxBytes)}, ${s.cache.hits} hits, ${s.cache.misses} misses, ${s.cache.directReads} direct reads, ${s.cache.corruptPieces} corrupt`,
  ];
  if (s.scrub) lines.push(`scrub       ${scrubLine(s.scrub)}`);
  if (s.qos) lines.push(`qos         ${qosLine(s.qos)}`);
  if (s.storageControl) {
    const c = s.storageControl;
    lines.push(
      `storage     ${c.swarms} swarms from ${c.statsUrl} (${c.holding} holding), ${c.rounds} rounds, ${c.piecesIngested} pieces ingested, ${c.piecesPurged} purged, ${c.operationsFailed} operations failed`,
    );
  }
  lines.push(...signallingLines(s.trackers, s.ims));
  if (s.controller) {
    const c = s.controller;
    lines.push(
      `controller  ${c.controller} as ${c.edgeId ?? '(not enrolled)'}, ${c.connected ? 'connected' : `unreachable${c.lastError ? ` (${c.lastError})` : ''}`}${c.draining ? ', draining' : ''}`,
    );
  }
  return lines.join('\n');
}

/** A controller's status (the same data dir discovery finds it): edges, fetches from them, what it served. */
function renderController(pid: number, s: ControllerStatus): string {
  const lines = [
    `controller  pid ${pid}, state in ${s.dataDir}`,
    `edges       ${s.edges.enrolled} enrolled, ${s.edges.up} up, ${s.edges.serving} serving (listener ${s.addresses.edgeUrl})`,
    `objects     ${s.objects} (${s.objectsComplete} complete in the union)`,
    `fetches     ${s.fetches.fetched} pieces (${formatBytes(s.fetches.bytesFetched)}) verified from edges, ${s.fetches.fetchFailures} failed, ${s.fetches.corruptPieces} corrupt`,
    `peer wire   port ${s.addresses.peerPort}${s.wire ? `, ${s.wire.connections} peers, ${formatBytes(s.wire.uploadedBytes)} sent` : ''}`,
    `http        ${s.addresses.httpBaseUrls.join(' ') || 'off'}${s.http ? `, ${s.http.requests} requests, ${s.http.redirected} redirected` : ''}`,
    `messages    ${s.registry.heartbeats} heartbeats, ${s.registry.states} states, ${s.registry.deltas} deltas, ${s.registry.resyncsAsked} resyncs, ${s.registry.badMessages} bad, ${s.registry.unauthorized} unauthorized`,
  ];
  lines.push(...signallingLines(s.trackers, s.ims));
  return lines.join('\n');
}

/** A time for people: ISO 8601 in UTC to the second, or "-". */
function when(at: number | string | null | undefined): string {
  if (at === null || at === undefined) return '-';
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Trackers and the IMS registration as text (--json has every field). */
function signallingLines(trackers: AgentStatus['trackers'], ims: AgentStatus['ims']): string[] {
  const lines = trackers.map((t) => {
    const state =
      t.consecutiveFailures === 0
        ? t.lastSuccessAt === null
          ? 'not announced yet'
          : `ok, last ${when(t.lastSuccessAt)}`
        : `failing (${t.consecutiveFailures} in a row: ${t.lastError?.message ?? 'unknown'}), retry ${when(t.retryAt)}`;
    return `tracker     ${t.url}: ${state}; ${t.objects} objects, ${t.peersSeen} peers seen, next ${when(t.nextAnnounceAt)}, ${t.announces.ok} ok / ${t.announces.failed} failed`;
  });
  if (ims) {
    const state = ims.registered
      ? `registered until ${when(ims.expiresAt)}, refresh ${when(ims.refreshAt)}`
      : `${ims.status}${ims.nextRetryAt ? `, retry ${when(ims.nextRetryAt)}` : ''}`;
    lines.push(`ims         ${ims.impu} via ${ims.registrar} (${ims.transport}): ${state}`);
  }
  return lines;
}
