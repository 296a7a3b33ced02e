// The simulator's output for people: a Markdown table and an SVG bar chart per scenario.
import type { SimResult } from './simulate.ts';

const MiB = 1024 * 1024;

export function markdownTable(results: SimResult[]): string {
  const lines = [
    '| scenario | policy | origin MiB (x content) | origin per swarm, max / mean | CDN egress MiB | peer efficiency (swarms of 50+) | mean / p95 download s | first piece s | missing-piece s | CDN churn pieces | completed / aborted |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.scenario} | ${r.policy} | ${(r.originBytes / MiB).toFixed(0)} (${(r.originBytes / r.contentBytes).toFixed(2)}x) | ${r.originPerSwarmMax.toFixed(2)}x / ${r.originPerSwarmMean.toFixed(2)}x | ${(r.cdnBytes / MiB).toFixed(0)} | ${(r.peerEfficiency * 100).toFixed(0)} % (${r.largeSwarmPeerEfficiency === null ? '-' : `${(r.largeSwarmPeerEfficiency * 100).toFixed(0)} %`}) | ${r.meanDownloadS.toFixed(1)} / ${r.p95DownloadS.toFixed(1)} | ${r.meanFirstPieceS.toFixed(1)} | ${r.missingPieceSeconds} | ${r.cdnChurnPieces} | ${r.completed} / ${r.aborted} |`,
    );
  }
  return lines.join('\n');
}

/** Grouped bars: per policy, origin MiB, CDN egress MiB and p95 download time, each scaled to its maximum. */
export function svgChart(scenario: string, results: SimResult[]): string {
  const metrics: Array<{ label: string; value: (r: SimResult) => number; unit: string; colour: string }> = [
    { label: 'origin bytes', value: (r) => r.originBytes / MiB, unit: 'MiB', colour: '#d95f02' },
    { label: 'CDN egress', value: (r) => r.cdnBytes / MiB, unit: 'MiB', colour: '#7570b3' },
    { label: 'p95 download', value: (r) => r.p95DownloadS, unit: 's', colour: '#1b9e77' },
    { label: 'peer efficiency', value: (r) => r.peerEfficiency * 100, unit: '%', colour: '#e7298a' },
  ];
  const width = 760;
  const height = 320;
  const left = 40;
  const top = 40;
  const plotHeight = 200;
  const group = (width - left - 20) / results.length;
  const bar = (group - 16) / metrics.length;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<title>${scenario}: origin bytes, CDN egress, p95 download time and peer efficiency per policy</title>`,
    `<text x="${left}" y="20" font-size="14">${scenario}: each measure scaled to its largest value (labels: actual)</text>`,
  ];
  metrics.forEach((metric, m) => {
    const max = Math.max(...results.map(metric.value), 1e-9);
    results.forEach((r, p) => {
      const value = metric.value(r);
      const h = (value / max) * plotHeight;
      const x = left + p * group + 8 + m * bar;
      const y = top + plotHeight - h;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${metric.colour}"/>`,
      );
      parts.push(
        `<text x="${(x + bar / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="9">${value.toFixed(0)}</text>`,
      );
    });
    parts.push(
      `<rect x="${left + m * 150}" y="${top + plotHeight + 40}" width="10" height="10" fill="${metric.colour}"/>`,
    );
    parts.push(`<text x="${left + m * 150 + 14}" y="${top + plotHeight + 49}">${metric.label} (${metric.unit})</text>`);
  });
  results.forEach((r, p) => {
    parts.push(
      `<text x="${(left + p * group + group / 2).toFixed(1)}" y="${top + plotHeight + 16}" text-anchor="middle">${r.policy}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
