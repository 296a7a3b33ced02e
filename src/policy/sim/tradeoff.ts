// The trade-off between CDN egress and download time that the function's two main settings span: the
// top-up rate (the agent's storageControl.topUpRate; how much of a leecher's rate the edge makes up) and
// copiesPerLeecher (how many copies outside the CDN per leecher before pieces leave the edge). Each point is
// one simulator run of the function against LRU cache-everything in the same scenario and seed, measured
// against the goals (docs/benchmarks.md, "The trade-off curve").
import { type Scenario, type SimResult, simulate } from './simulate.ts';

const MiB = 1024 * 1024;

/** The grid `npm run sim -- --curve` runs: top-up MiB/s (0: off) x copiesPerLeecher. */
export const CURVE_TOP_UPS_MIB = [0, 2, 1.95, 1.9, 1.85, 1.8, 1.7, 1.5, 1.3, 1.2, 1.1, 1, 0.9, 0.8];
export const CURVE_COPIES_PER_LEECHER = [0, 4, 6, 8];

export interface TradeoffPoint {
  scenario: string;
  topUpMiBPerS: number;
  copiesPerLeecher: number;
  /** 1 - function's CDN egress / LRU's: the goal is >= 0.5. */
  egressSaving: number;
  /** p95 download time over LRU's: the goal is <= 1.1. */
  p95Ratio: number;
  meanRatio: number;
  largeSwarmPeerEfficiency: number | null;
  missingPieceSeconds: number;
  originOverContent: number;
  /** Origin bytes over the object's size in the worst swarm lifetime: the goal is <= 1.1. */
  originPerSwarmMax: number;
  /** No other point of the scenario saves at least as much at a p95 ratio at most as high (one strictly). */
  frontier: boolean;
  /** Every goal of the issue met at this point (egress, p95, missing-piece seconds, origin per swarm, peer efficiency 50+). */
  meetsGoals: boolean;
}

export function tradeoffPoint(scenario: Scenario, run: SimResult, lru: SimResult): TradeoffPoint {
  const point: TradeoffPoint = {
    scenario: scenario.name,
    topUpMiBPerS: Math.round(((scenario.cdnTopUpBytesPerS ?? 0) / MiB) * 1000) / 1000,
    copiesPerLeecher: scenario.policy.copiesPerLeecher,
    egressSaving: 1 - run.cdnBytes / lru.cdnBytes,
    p95Ratio: run.p95DownloadS / lru.p95DownloadS,
    meanRatio: run.meanDownloadS / lru.meanDownloadS,
    largeSwarmPeerEfficiency: run.largeSwarmPeerEfficiency,
    missingPieceSeconds: run.missingPieceSeconds,
    originOverContent: run.originBytes / run.contentBytes,
    originPerSwarmMax: run.originPerSwarmMax,
    frontier: false,
    meetsGoals: false,
  };
  point.meetsGoals =
    point.egressSaving >= 0.5 &&
    point.p95Ratio <= 1.1 &&
    point.missingPieceSeconds === 0 &&
    point.originPerSwarmMax <= 1.1 &&
    (point.largeSwarmPeerEfficiency === null || point.largeSwarmPeerEfficiency >= 0.7);
  return point;
}

/** Marks the points no other point of the same scenario beats on both egress saving and p95 ratio. */
export function markFrontier(points: TradeoffPoint[]): TradeoffPoint[] {
  for (const p of points) {
    p.frontier = !points.some(
      (q) =>
        q !== p &&
        q.scenario === p.scenario &&
        q.egressSaving >= p.egressSaving &&
        q.p95Ratio <= p.p95Ratio &&
        (q.egressSaving > p.egressSaving || q.p95Ratio < p.p95Ratio),
    );
  }
  return points;
}

/** Runs the grid over `scenario` (its other settings kept), LRU once as the yardstick. */
export function tradeoffCurve(
  scenario: Scenario,
  topUpsMiB: readonly number[] = CURVE_TOP_UPS_MIB,
  copiesPerLeecher: readonly number[] = CURVE_COPIES_PER_LEECHER,
): TradeoffPoint[] {
  const lru = simulate(scenario, 'lru');
  const points: TradeoffPoint[] = [];
  for (const cpl of copiesPerLeecher) {
    for (const topUp of topUpsMiB) {
      const run: Scenario = {
        ...scenario,
        policy: { ...scenario.policy, copiesPerLeecher: cpl },
        cdnTopUpBytesPerS: Math.round(topUp * MiB),
      };
      points.push(tradeoffPoint(run, simulate(run, 'function'), lru));
    }
  }
  return markFrontier(points);
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The frontier of each scenario as a Markdown table, the goal's corner marked. */
export function tradeoffTable(points: TradeoffPoint[]): string {
  const lines = [
    '| scenario | top-up MiB/s | copiesPerLeecher | egress below LRU | p95 / LRU | mean / LRU | peer efficiency (50+) | missing-piece s | origin x content (worst swarm) | all goals |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const frontier = points
    .filter((p) => p.frontier)
    .sort((a, b) => (a.scenario < b.scenario ? -1 : a.scenario > b.scenario ? 1 : a.p95Ratio - b.p95Ratio));
  for (const p of frontier) {
    lines.push(
      `| ${p.scenario} | ${p.topUpMiBPerS === 0 ? 'off' : p.topUpMiBPerS.toFixed(2)} | ${p.copiesPerLeecher} | ${pct(p.egressSaving)} | ${p.p95Ratio.toFixed(3)} | ${p.meanRatio.toFixed(3)} | ${p.largeSwarmPeerEfficiency === null ? '-' : pct(p.largeSwarmPeerEfficiency)} | ${p.missingPieceSeconds} | ${p.originOverContent.toFixed(2)} (${p.originPerSwarmMax.toFixed(2)}) | ${p.meetsGoals ? 'yes' : 'no'} |`,
    );
  }
  return lines.join('\n');
}

/** One panel per scenario: egress saving (y) against p95 ratio (x), a colour per copiesPerLeecher, the goal's corner shaded. */
export function tradeoffSvg(points: TradeoffPoint[]): string {
  const scenarios = [...new Set(points.map((p) => p.scenario))];
  const colours = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];
  const cpls = [...new Set(points.map((p) => p.copiesPerLeecher))].sort((a, b) => a - b);
  const panelW = 360;
  const panelH = 260;
  const cols = 2;
  const rows = Math.ceil(scenarios.length / cols);
  const width = cols * panelW + 20;
  const height = rows * panelH + 60;
  const xMin = 0.9;
  const xMax = Math.max(1.8, ...points.map((p) => Math.min(p.p95Ratio, 2.5)));
  const yMin = Math.min(0, ...points.map((p) => p.egressSaving));
  const yMax = 0.7;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="10">`,
    '<title>CDN egress below LRU against p95 download time over LRU, per top-up rate and copiesPerLeecher</title>',
    `<text x="10" y="16" font-size="13">Egress saving against LRU (y) vs p95 download / LRU's (x); shaded: the goal (&gt;= 50 %, &lt;= 1.10x); ringed: the frontier</text>`,
  ];
  cpls.forEach((cpl, i) => {
    parts.push(`<circle cx="${20 + i * 150}" cy="32" r="4" fill="${colours[i % colours.length]}"/>`);
    parts.push(`<text x="${28 + i * 150}" y="35">copiesPerLeecher ${cpl}</text>`);
  });
  scenarios.forEach((scenario, s) => {
    const ox = 10 + (s % cols) * panelW + 40;
    const oy = 50 + Math.floor(s / cols) * panelH + 10;
    const w = panelW - 60;
    const h = panelH - 50;
    const x = (v: number) => ox + ((Math.min(v, xMax) - xMin) / (xMax - xMin)) * w;
    const y = (v: number) => oy + h - ((v - yMin) / (yMax - yMin)) * h;
    parts.push(`<text x="${ox}" y="${oy - 2}" font-size="12">${scenario}</text>`);
    parts.push(
      `<rect x="${x(xMin).toFixed(1)}" y="${y(yMax).toFixed(1)}" width="${(x(1.1) - x(xMin)).toFixed(1)}" height="${(y(0.5) - y(yMax)).toFixed(1)}" fill="#ddd"/>`,
    );
    parts.push(`<rect x="${ox}" y="${oy}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
    for (const v of [1, 1.1, 1.5, 2]) {
      if (v > xMax) continue;
      parts.push(`<text x="${x(v).toFixed(1)}" y="${oy + h + 12}" text-anchor="middle">${v}x</text>`);
    }
    for (const v of [0, 0.25, 0.5]) {
      parts.push(`<text x="${ox - 4}" y="${(y(v) + 3).toFixed(1)}" text-anchor="end">${v * 100} %</text>`);
    }
    for (const p of points.filter((q) => q.scenario === scenario)) {
      const colour = colours[cpls.indexOf(p.copiesPerLeecher) % colours.length];
      const cx = x(p.p95Ratio).toFixed(1);
      const cy = y(p.egressSaving).toFixed(1);
      parts.push(
        `<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}"><title>top-up ${p.topUpMiBPerS} MiB/s, copiesPerLeecher ${p.copiesPerLeecher}: ${pct(p.egressSaving)} at ${p.p95Ratio.toFixed(3)}x</title></circle>`,
      );
      if (p.frontier) parts.push(`<circle cx="${cx}" cy="${cy}" r="6" fill="none" stroke="#000"/>`);
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
