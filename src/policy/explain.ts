// `edgepeer policy explain`: the last round's decisions of one swarm, as JSON (the admin API's answer) and
// as text for people.
import type { StorageControlSettings, SwarmDecision } from './types.ts';

/** GET /v1/policy/<info hash>: the swarm's last decisions, with the settings they were made under. */
export interface PolicyExplanation extends SwarmDecision {
  name: string;
  settings: StorageControlSettings;
  /** The last ingest or purge carried out for this swarm and how it went, or null. */
  lastOperation: OperationOutcome | null;
}

export interface OperationOutcome {
  action: 'ingest' | 'purge';
  at: number;
  pieces: number[];
  ok: boolean;
  error: { code: string; message: string } | null;
}

function iso(at: number | null): string {
  return at === null ? '-' : new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One line per piece (piece, copies in the swarm, outside the CDN, held here, demand, decision, why). */
export function renderExplanation(e: PolicyExplanation): string {
  const lines = [
    `${e.infoHash}  ${e.name}`,
    `round ${iso(e.at)}; statistics ${e.stats}${e.statsDetail ? ` (${e.statsDetail})` : ''}, version ${e.statsVersion ?? '-'} received ${iso(e.statsReceivedAt)}`,
    `marks: ingest below ${e.settings.lowCopies} copies outside the CDN, purge at ${e.settings.highCopies}+ for ${e.settings.holdMs / 1000} s` +
      (e.settings.copiesPerLeecher > 0
        ? `; keep while fewer than ${e.settings.copiesPerLeecher} copies per leecher`
        : '') +
      (e.settings.setAside ? '; plentiful pieces are set aside' : ''),
  ];
  if (e.soleSource) {
    lines.push('only source: this node holds a wanted piece no peer outside the CDN has; top-up does not pace it');
  } else if (!e.paced) {
    lines.push(
      `thin swarm: fewer than ${e.settings.paceSeedsPerLeecher} seeds outside the CDN per leecher; top-up does not pace it`,
    );
  }
  const aside = e.pieces.filter((p) => p.detail.includes('set aside here')).length;
  if (aside > 0) lines.push(`set aside here (not served): ${aside} pieces`);
  if (e.lastOperation) {
    const op = e.lastOperation;
    lines.push(
      `last operation: ${op.action} of ${op.pieces.length} pieces at ${iso(op.at)}: ${op.ok ? 'ok' : `failed (${op.error?.code}: ${op.error?.message})`}`,
    );
  }
  lines.push('piece\tswarm\toutside\theld\tdemand\tdecision\treason\twhy');
  for (const p of e.pieces) {
    lines.push(
      [
        p.piece,
        p.swarmCopies ?? '-',
        p.outsideCopies ?? '-',
        p.held ? 'yes' : 'no',
        p.demand ?? '-',
        p.action,
        p.reason,
        p.detail,
      ].join('\t'),
    );
  }
  return lines.join('\n');
}
