import { describe, expect, it } from 'vitest';
import { SpanBuffers } from '../../src/http/span-buffers.ts';

describe('SpanBuffers', () => {
  it('hands out power-of-two buffers from 16 KiB and reuses those given back', () => {
    const buffers = new SpanBuffers(1024 * 1024);
    const small = buffers.take(100);
    expect(small.length).toBe(16 * 1024);
    expect(buffers.take(16 * 1024 + 1).length).toBe(32 * 1024);
    buffers.give(small);
    expect(buffers.idleBytes).toBe(16 * 1024);
    expect(buffers.take(16 * 1024)).toBe(small);
    expect(buffers.idleBytes).toBe(0);
    // a buffer in use is never handed out twice
    expect(buffers.take(16 * 1024)).not.toBe(small);
  });

  it('keeps no more idle bytes than its limit', () => {
    const buffers = new SpanBuffers(40 * 1024);
    const taken = [buffers.take(16 * 1024), buffers.take(16 * 1024), buffers.take(16 * 1024)];
    for (const buffer of taken) buffers.give(buffer);
    expect(buffers.idleBytes).toBe(32 * 1024);
  });
});
