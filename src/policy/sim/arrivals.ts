// The peers of a scenario: who arrives when, on which object, with what uplink, whether it aborts and how long
// it seeds. Drawn from their own seeded stream, so they are the same under every policy (and in the bound).

import { exponential, poisson, seededRandom, zipfSampler } from './random.ts';
import type { Scenario } from './simulate.ts';

export interface Arrival {
  object: number;
  arrivedAt: number;
  /** Upload rate, bytes/s. */
  up: number;
  /** When it gives up if still downloading (null: it never does). */
  abortAt: number | null;
  /** How long it seeds once complete. */
  seedTime: number;
}

/** A function of the second `now` (called for 0, 1, 2, ... in order) returning the peers that arrive in it. */
export function arrivalSource(scenario: Scenario): (now: number) => Arrival[] {
  const random = seededRandom(scenario.seed);
  const zipf = zipfSampler(scenario.objects, scenario.zipfS);
  const objectBytes = scenario.piecesPerObject * scenario.pieceBytes;
  const fastest = objectBytes / scenario.peerDownloadBytesPerS;
  return (now) => {
    const flash = scenario.flashArrivalsPerS * Math.exp(-now / scenario.flashDecayS);
    const arriving: Array<[object: number, arrivedAt: number]> =
      scenario.arrivalTimesS === undefined
        ? [
            ...Array.from({ length: poisson(random, scenario.baseArrivalsPerS) }, () => zipf(random)),
            ...Array.from({ length: poisson(random, flash) }, () => 0),
          ].map((object) => [object, now])
        : scenario.arrivalTimesS.filter((at) => at >= now && at < now + 1).map((at) => [0, at]);
    return arriving.map(([object, arrivedAt]) => {
      const up = scenario.peerUploadBytesPerS[Math.floor(random() * scenario.peerUploadBytesPerS.length)]!;
      const abortAt = random() < scenario.abortShare ? now + 1 + random() * fastest * 3 : null;
      const seedTime = scenario.seedTimeFixedS ?? exponential(random, scenario.seedTimeMeanS);
      return { object, arrivedAt, up, abortAt, seedTime };
    });
  };
}
