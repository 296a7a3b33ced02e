// `edgepeer qos` as text: the limits in effect, the current rates per protocol and class, what waited.
import type { QosStatus } from './qos.ts';

const rate = (bytes: number) => (bytes === 0 ? 'none' : `${formatRate(bytes)}`);

/** 5000000 -> "4.77 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytesPerSecond;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(2)} ${units[unit]}/s`;
}

export function renderQos(status: QosStatus): string {
  const s = status.settings;
  const lines = [
    `limits      ${status.active ? 'on' : 'off (no limit set)'}`,
    `global      ${rate(status.effectiveRate)}${s.altWindow ? ` (alt ${rate(s.altRate)} in ${s.altWindow}${status.altActive ? ', now' : ''}; else ${rate(s.rate)})` : ''}`,
    `protocols   wire ${rate(s.wireRate)}, http ${rate(s.httpRate)}, https ${rate(s.httpsRate)}`,
    `each        object ${rate(s.objectRate)}, client address ${rate(s.clientRate)}`,
    `sending     wire ${formatRate(status.currentRates.wire)}, http ${formatRate(status.currentRates.http)}, https ${formatRate(status.currentRates.https)}`,
    `waiting     ${status.waitingFlows} senders, ${status.waitingBytes} bytes; ${status.delayedSends} sends delayed since start`,
    `classes     ${Object.keys(s.objectClasses).length} objects and ${Object.keys(s.subscriberClasses).length} subscribers assigned; the rest in default`,
    ...status.classes.map(
      (c) =>
        `  ${c.name.padEnd(12)} weight ${String(c.weight).padEnd(4)} limit ${rate(c.rate).padEnd(14)} sending ${formatRate(c.currentRate).padEnd(14)} waiting ${c.waiting}`,
    ),
  ];
  return lines.join('\n');
}
