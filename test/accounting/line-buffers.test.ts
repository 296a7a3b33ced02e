import { describe, expect, it } from 'vitest';
import { LineBuffers } from '../../src/accounting/line-buffers.ts';

function text(buffers: Buffer[]): string {
  return Buffer.concat(buffers).toString('utf8');
}

describe('accounting line buffers', () => {
  it('gives back every line in order across chunk boundaries, multi-byte characters whole', () => {
    const queue = new LineBuffers();
    const lines: string[] = [];
    for (let i = 0; i < 3000; i += 1)
      lines.push(`{"seq":${i},"subscriber":"sip:zoë-${'é'.repeat(i % 50)}@ims.example.net"}\n`);
    for (const line of lines) queue.push(line);
    expect(queue.lines).toBe(3000);
    const taken = queue.take();
    expect(taken.buffers.length).toBeGreaterThan(1);
    expect(taken.lines).toBe(3000);
    expect(taken.bytes).toBe(Buffer.byteLength(lines.join('')));
    expect(text(taken.buffers)).toBe(lines.join(''));
    expect(queue.lines).toBe(0);
    expect(queue.take().buffers).toEqual([]);
  });

  it('takes a line longer than a chunk whole', () => {
    const queue = new LineBuffers();
    const long = `${'x'.repeat(300 * 1024)}\n`;
    queue.push('a\n');
    queue.push(long);
    queue.push('b\n');
    expect(text(queue.take().buffers)).toBe(`a\n${long}b\n`);
  });

  it('reuses released chunks, and what it wrote before is not changed by lines after the take', () => {
    const queue = new LineBuffers();
    queue.push('first\n');
    const first = queue.take();
    const copy = Buffer.from(first.buffers[0] as Buffer);
    queue.push('second\n');
    const second = queue.take();
    expect(first.buffers[0]?.buffer).not.toBe(second.buffers[0]?.buffer);
    expect(first.buffers[0]).toEqual(copy);
    queue.release(first.buffers);
    queue.push('third\n');
    const third = queue.take();
    expect(third.buffers[0]?.buffer).toBe(first.buffers[0]?.buffer);
    expect(text(third.buffers)).toBe('third\n');
  });
});
