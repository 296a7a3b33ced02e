// The real-run check's one fitted input (scripts/bench/policy-real.ts, policy-trace.ts).
import { type Scenario, simulate } from '../../src/policy/index.ts';

/**
 * The client start (0-5 s, 0.05 s steps) whose simulated fastest download is nearest the real `fastest`:
 * fitted on the fastest leecher alone, so the other leechers and the mean stay a check.
 */
export function fitStart(scenario: Scenario, fastest: number): number {
  let best = { startS: 0, error: Number.POSITIVE_INFINITY };
  for (let startS = 0; startS <= 5; startS += 0.05) {
    const times: number[] = [];
    simulate({ ...scenario, peerStartS: startS }, 'function', {
      peerDone: (record) => times.push(record.doneAt - record.arrivedAt),
    });
    const error = Math.abs(Math.min(...times) - fastest);
    if (error < best.error) best = { startS, error };
  }
  return best.startS;
}
