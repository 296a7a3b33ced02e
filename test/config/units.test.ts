import { describe, expect, it } from 'vitest';
import { formatBytes, parseDuration, parseSize } from '../../src/config/index.ts';

describe('parseDuration', () => {
  it('reads units and compounds', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('3600')).toBe(3_600_000);
  });

  it('rejects junk with a message naming the input', () => {
    for (const bad of ['', 'h', '1x', '1h 2', '-1h', '1h30']) {
      expect(() => parseDuration(bad, '--ttl')).toThrow(/--ttl/);
    }
  });
});

describe('parseSize', () => {
  it('reads binary and decimal units', () => {
    expect(parseSize('262144')).toBe(262_144);
    expect(parseSize('256KiB')).toBe(262_144);
    expect(parseSize('1m')).toBe(1_048_576);
    expect(parseSize('1MB')).toBe(1_000_000);
  });

  it('rejects unknown units', () => {
    expect(() => parseSize('12 parsecs')).toThrow(/invalid size/);
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
  });
});
