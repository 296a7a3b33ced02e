// The folders of src/ depend on one another one way: no cycle between folders, and the roots (agent, controller, cli)
// are imported by no part. Read from the sources' import lines, so a new import that closes a cycle fails
// here, naming the cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** folder -> folders it imports (type-only imports included: they say what a folder knows of). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources(SRC)) {
    const folder = relative(SRC, file).split('/')[0]!;
    const deps = graph.get(folder) ?? new Set<string>();
    graph.set(folder, deps);
    for (const match of readFileSync(file, 'utf8').matchAll(/from '((?:\.\.\/)+)([a-z-]+)\//g)) {
      const depth = match[1]!.length / 3;
      const fileDepth = relative(SRC, file).split('/').length - 1;
      if (depth !== fileDepth) continue; // within the folder (tracker/server -> tracker/protocol)
      if (match[2] !== folder) deps.add(match[2]!);
    }
  }
  return graph;
}

/** A cycle of folders, as a path a -> b -> ... -> a, or null. */
function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (folder: string): string[] | null => {
    if (state.get(folder) === 'done') return null;
    if (state.get(folder) === 'visiting') return [...path.slice(path.indexOf(folder)), folder];
    state.set(folder, 'visiting');
    path.push(folder);
    for (const dep of graph.get(folder) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(folder, 'done');
    return null;
  };
  for (const folder of graph.keys()) {
    const cycle = visit(folder);
    if (cycle) return cycle;
  }
  return null;
}

describe('dependencies between the folders of src/', () => {
  const graph = folderGraph();

  it('form no cycle', () => {
    expect(graph.size).toBeGreaterThan(10);
    expect(findCycle(graph)?.join(' -> ') ?? 'none').toBe('none');
  });

  it('never point at the roots: no folder imports agent, controller or cli, and config imports no root', () => {
    const roots = ['agent', 'controller', 'cli'];
    const intoRoots = [...graph].filter(
      ([folder, deps]) => folder !== 'agent' && roots.some((root) => root !== folder && deps.has(root)),
    );
    expect(intoRoots.map(([folder]) => folder)).toEqual(
      // cli is commands' helper: it may read config; nothing imports the agent but commands
      [],
    );
  });

  it('finds a cycle when there is one (the check itself)', () => {
    const withCycle = new Map(graph);
    withCycle.set('store', new Set([...(graph.get('store') ?? []), 'wire']));
    expect(findCycle(withCycle)).toContain('store');
  });
});
