// Reading the config file into checked values that remember their line.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { fromSystemError } from '../errors/index.ts';
import { type ConfigIssue, closest, configError, type Origin, showInput } from './issues.ts';
import { resolvePaths } from './paths.ts';
import { FILE_SCHEMA, TREE, type Tree } from './schema.ts';
import { SETTING_KEYS, SETTINGS, type SettingKey, type SettingSpec } from './settings.ts';

/** A layer of the configuration: checked values by key, each with where it came from. */
export type Layer = Map<SettingKey, { value: unknown; origin: Origin }>;

/** Keys the file may hold under a section path ([] for the top level). */
function keysUnder(path: readonly PropertyKey[]): string[] {
  let node: Tree | SettingKey | undefined = TREE;
  for (const part of path) node = typeof node === 'object' ? node[String(part)] : undefined;
  return typeof node === 'object' ? Object.keys(node) : [];
}

/** Why a key is unknown, with the likely intended one. */
function unknownKeyProblem(section: readonly PropertyKey[], name: string): string {
  const prefix = section.length === 0 ? '' : `${section.join('.')}.`;
  if (`${prefix}${name}` === 'ims.password') {
    return 'unknown key: the password stays out of the config file; name a file in ims.passwordFile or set EDGEPEER_IMS_PASSWORD';
  }
  const near = closest(name, keysUnder(section));
  return near === undefined ? 'unknown key' : `unknown key (did you mean ${prefix}${near}?)`;
}

export interface FileLayer {
  layer: Layer;
  issues: ConfigIssue[];
}

/** Reads and checks a config file; every problem comes back as an issue naming its key and line. */
export async function readConfigFile(file: string): Promise<FileLayer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, not a file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'cannot be read: permission denied'
            : `cannot be read: ${fromSystemError(err, file).message}`;
    throw configError([{ key: '', problem, origin: { kind: 'file', file } }], file);
  }
  return parseConfigText(text, file);
}

/** Checks config file text (`file` names it in issues and anchors relative paths). */
export function parseConfigText(text: string, file: string): FileLayer {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  const at = (line: number | undefined): Origin =>
    line === undefined ? { kind: 'file', file } : { kind: 'file', file, line };

  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) {
    // The first only: later ones are mostly echoes of it. The line goes in the origin, not the text.
    const text = (syntaxError.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    const issue: ConfigIssue = {
      key: '',
      problem: `not valid YAML: ${text}`,
      origin: at(syntaxError.linePos?.[0]?.line),
    };
    return { layer: new Map(), issues: [issue] };
  }

  const nodeLine = (path: readonly PropertyKey[]): number | undefined => {
    const node = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
    return lineAt((node as Node | undefined)?.range?.[0]);
  };
  const keyLine = (section: readonly PropertyKey[], name: string): number | undefined => {
    const map = section.length === 0 ? doc.contents : doc.getIn(section as unknown[], true);
    if (!isMap(map)) return nodeLine(section);
    const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === name);
    return lineAt((pair?.key as Node | undefined)?.range?.[0]) ?? nodeLine(section);
  };

  const data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = FILE_SCHEMA.safeParse(data, { reportInput: true });
  if (!result.success) {
    const issues: ConfigIssue[] = [];
    for (const issue of result.error.issues) {
      const path = issue.path as PropertyKey[];
      if (issue.code === 'unrecognized_keys') {
        for (const name of issue.keys) {
          issues.push({
            key: keyPath([...path, name]),
            problem: unknownKeyProblem(path, name),
            origin: at(keyLine(path, name)),
          });
        }
        continue;
      }
      const got = showInput(issue.input);
      issues.push({
        key: keyPath(path),
        problem: issue.message,
        ...(got === undefined ? {} : { got }),
        origin: at(nodeLine(path)),
      });
    }
    return { layer: new Map(), issues: issues.sort(byLine) };
  }

  const layer: Layer = new Map();
  for (const key of SETTING_KEYS) {
    const path = key.split('.');
    let value: unknown = result.data;
    for (const part of path) value = (value as Record<string, unknown> | null | undefined)?.[part];
    if (value === undefined || value === null) continue;
    const spec: SettingSpec = SETTINGS[key];
    if (spec.isPath) value = resolvePaths(value, dirname(file));
    layer.set(key, { value, origin: at(nodeLine(path)) });
  }
  return { layer, issues: [] };
}

function byLine(a: ConfigIssue, b: ConfigIssue): number {
  const line = (i: ConfigIssue) => (i.origin.kind === 'file' ? (i.origin.line ?? 0) : 0);
  return line(a) - line(b);
}

/** ['trackers', 1] -> trackers[1]; ['peer', 'port'] -> peer.port. */
function keyPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}
