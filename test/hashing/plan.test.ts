import { describe, expect, it } from 'vitest';
import { planHashing } from '../../src/hashing/plan.ts';

const files = [
  { path: 'a', length: 100 },
  { path: 'empty', length: 0 },
  { path: 'b', length: 50 },
  { path: 'c', length: 130 },
];

describe('planHashing', () => {
  it('cuts all pieces in tasks of the batch size, each with only the files it touches', () => {
    const plan = planHashing(files, 64, { batchBytes: () => 128 });
    expect(plan.totalLength).toBe(280);
    expect(plan.pieceCount).toBe(5);
    expect(plan.resultPieces).toBe(5);
    expect(plan.tasks.map((task) => task.runs)).toEqual([[[0, 2]], [[2, 2]], [[4, 1]]]);
    expect(plan.tasks.map((task) => task.files.map((file) => file.path))).toEqual([['a', 'b'], ['b', 'c'], ['c']]);
    expect(plan.tasks.map((task) => task.bytes)).toEqual([128, 128, 24]);
    expect(plan.tasks.map((task) => task.outputIndex)).toEqual([0, 2, 4]);
    expect(plan.tasks[1]!.files[0]).toEqual({ path: 'b', start: 100, length: 50 });
  });

  it('keeps the order of requested pieces, grouping consecutive ones in runs', () => {
    const plan = planHashing(files, 64, { pieces: [4, 0, 1, 3], batchBytes: () => 1024 });
    expect(plan.resultPieces).toBe(4);
    expect(plan.tasks).toHaveLength(1);
    expect(plan.tasks[0]!.runs).toEqual([
      [4, 1],
      [0, 2],
      [3, 1],
    ]);
    expect(plan.tasks[0]!.files.map((file) => file.path)).toEqual(['a', 'b', 'c']);
  });

  it('sizes each task from the bytes left, at least one piece each', () => {
    const asked: number[] = [];
    const plan = planHashing(files, 64, {
      pieces: [1, 2],
      batchBytes: (remaining) => {
        asked.push(remaining);
        return 1;
      },
    });
    expect(asked).toEqual([128, 64]);
    expect(plan.tasks.map((task) => task.runs)).toEqual([[[1, 1]], [[2, 1]]]);
  });

  it('shrinks tasks towards the end when asked to', () => {
    const plan = planHashing([{ path: 'big', length: 16 * 64 }], 64, { batchBytes: (remaining) => remaining / 2 });
    expect(plan.tasks.map((task) => task.pieceCount)).toEqual([8, 4, 2, 1, 1]);
    expect(plan.tasks.map((task) => task.outputIndex)).toEqual([0, 8, 12, 14, 15]);
  });

  it('carries the destination of each file', () => {
    const plan = planHashing(files, 1000, { copyTo: ['A', 'E', 'B', 'C'], batchBytes: () => 1000 });
    expect(plan.tasks[0]!.files.map((file) => file.copyTo)).toEqual(['A', 'B', 'C']);
  });

  it('plans nothing for empty content', () => {
    const plan = planHashing([{ path: 'e', length: 0 }], 16, { batchBytes: () => 16 });
    expect(plan).toMatchObject({ totalLength: 0, pieceCount: 0, resultPieces: 0, tasks: [] });
  });

  it('names what is wrong with bad input', () => {
    const batchBytes = () => 16;
    expect(() => planHashing(files, -1, { batchBytes })).toThrow('piece length');
    expect(() => planHashing([{ path: '', length: 1 }], 16, { batchBytes })).toThrow('file 0 has no path');
    expect(() => planHashing([{ path: 'x', length: 1.5 }], 16, { batchBytes })).toThrow('x: length');
    expect(() => planHashing(files, 64, { pieces: [5], batchBytes })).toThrow('piece index 5 is out of range');
    expect(() => planHashing(files, 64, { copyTo: ['a'], batchBytes })).toThrow('one destination per file');
  });
});
