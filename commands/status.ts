import { findAgent, RemoteOperations, readToken } from '../src/admin/index.ts';
import type { AgentStatus } from '../src/agent/index.ts';
import { BaseCommand, dataDirFlag } from '../src/cli/index.ts';
import { formatBytes } from '../src/config/index.ts';
import { AgentNotRunningError } from '../src/errors/index.ts';

export default class Status extends BaseCommand {
  static override description =
    `Show the running agent's state: objects, peers, transfer figures, cache, trackers and IMS registration.
Exit code 0 if an agent runs on the data dir, 7 if none does.`;

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json | jq .trackers'];

  static override flags = { 'data-dir': dataDirFlag };

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
      const status = (await remote.status()) as AgentStatus;
      this.emit({ pid: agent.pid, startedAt: agent.startedAt, ...status }, render(agent.pid, status));
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
  for (const t of s.trackers) lines.push(`tracker     ${JSON.stringify(t)}`);
  if (s.ims) lines.push(`ims         ${JSON.stringify(s.ims)}`);
  return lines.join('\n');
}
