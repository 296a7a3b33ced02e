// The checkers (zod) for the settings table: one per key, and the nested strict file schema built from them.
// Messages say what is expected; callers add the key, the input and where it came from.
import { z } from 'zod';
import { SETTING_KEYS, SETTINGS, type SettingKey, type SettingSpec, type ValueType } from './settings.ts';
import { formatDuration, formatSize, parseDuration, parseListenAddress, parseSize } from './units.ts';

function intRange(min: number, max: number): z.ZodType<number> {
  const error = `must be an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function nonEmptyString(what: string): z.ZodType<string> {
  const error = `must be ${what}`;
  return z.string({ error }).trim().min(1, { error });
}

function size(min: number, max: number): z.ZodType<number> {
  const range = max === Number.MAX_SAFE_INTEGER ? '' : `, from ${formatSize(min)} to ${formatSize(max)}`;
  const error = `must be a size such as 256MiB, 1g or a number of bytes${range}`;
  return z.union([z.number(), z.string()], { error }).transform((value, ctx) => {
    let bytes: number;
    try {
      bytes = typeof value === 'number' ? value : parseSize(value);
    } catch {
      bytes = Number.NaN;
    }
    if (!Number.isInteger(bytes) || bytes < min || bytes > max) {
      ctx.issues.push({ code: 'custom', message: error, input: value });
      return z.NEVER;
    }
    return bytes;
  });
}

function duration(min: number, max: number, bare: 's' | 'ms'): z.ZodType<number> {
  const unit = bare === 's' ? 'seconds' : 'milliseconds';
  const error = `must be a duration such as 5s, 15m, 1h30m or a number of ${unit}, from ${formatDuration(min)} to ${formatDuration(max)}`;
  return z.union([z.number(), z.string()], { error }).transform((value, ctx) => {
    let ms: number;
    try {
      const bareNumber = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : undefined;
      if (bareNumber !== undefined) ms = bare === 's' ? bareNumber * 1000 : bareNumber;
      else ms = parseDuration(value as string);
    } catch {
      ms = Number.NaN;
    }
    if (!Number.isInteger(ms) || ms < min || ms > max) {
      ctx.issues.push({ code: 'custom', message: error, input: value });
      return z.NEVER;
    }
    return ms;
  });
}

function url(protocols: readonly string[], what: string): z.ZodType<string> {
  const error = `must be ${what} (${protocols.map((p) => `${p}//`).join(', ')})`;
  return z.string({ error }).refine(
    (text) => {
      try {
        const parsed = new URL(text);
        return protocols.includes(parsed.protocol) && parsed.hostname !== '';
      } catch {
        return false;
      }
    },
    { error },
  );
}

const host = nonEmptyString('an IP address or host name').refine((h) => !/[\s/]/.test(h), {
  error: 'must be an IP address or host name',
});

function sipUri(what: string, needsUser: boolean): z.ZodType<string> {
  return nonEmptyString(what).refine((u) => /^sips?:\S+$/i.test(u) && (!needsUser || /^sips?:[^@\s]+@\S+$/i.test(u)), {
    error: `must be ${what}`,
  });
}

/** "HOST:PORT" or "[IPV6]:PORT"; a unix socket path is recognised but not served by the agent yet. */
const listen = nonEmptyString('HOST:PORT, e.g. 127.0.0.1:7070').transform((text, ctx) => {
  if (text.startsWith('/') || text.startsWith('unix:')) {
    ctx.issues.push({
      code: 'custom',
      message: 'unix socket paths are not supported by the agent yet: use HOST:PORT, e.g. 127.0.0.1:7070',
      input: text,
    });
    return z.NEVER;
  }
  const address = parseListenAddress(text);
  if (address === null) {
    ctx.issues.push({ code: 'custom', message: 'must be HOST:PORT, e.g. 127.0.0.1:7070 or [::1]:7070', input: text });
    return z.NEVER;
  }
  return address;
});

const KEY_FILE = /^([A-Za-z0-9._-]{1,64})=(\S.*)$/;
const keyFileError = 'must be ID=FILE (ID: letters, digits, ".", "_" or "-", at most 64), or a list of them';
const keyFile = z.string({ error: keyFileError }).transform((text, ctx) => {
  const match = KEY_FILE.exec(text.trim());
  if (match === null) {
    ctx.issues.push({ code: 'custom', message: keyFileError, input: text });
    return z.NEVER;
  }
  return { id: match[1] as string, file: match[2] as string };
});
const keyFiles = z
  .union([keyFile.transform((one) => [one]), z.array(keyFile)], { error: keyFileError })
  .refine((keys) => new Set(keys.map((k) => k.id)).size === keys.length, { error: 'names one key id twice' });

export function schemaFor(value: ValueType): z.ZodType {
  switch (value.type) {
    case 'int':
      return intRange(value.min, value.max);
    case 'size':
      return size(value.min, value.max);
    case 'duration':
      return duration(value.min, value.max, value.bare);
    case 'bool':
      return z.boolean({ error: 'must be true or false' });
    case 'enum':
      return z.enum(value.values as [string, ...string[]], { error: `must be one of ${value.values.join(', ')}` });
    case 'string': {
      const text = nonEmptyString(value.what);
      const { check } = value;
      if (check !== undefined) return text.refine(check, { error: `must be ${value.what}` });
      return value.noSpaces ? text.refine((v) => !/[\s"\\]/.test(v), { error: `must be ${value.what}` }) : text;
    }
    case 'url':
      return url(value.protocols, value.what);
    case 'urls':
      // One URL is a list of one (`controller.url: http://c1:7000` as well as `[http://c1:7000, ...]`).
      return z.union(
        [url(value.protocols, value.what).transform((one) => [one]), z.array(url(value.protocols, value.what))],
        {
          error: `must be ${value.what} or a list of them`,
        },
      );
    case 'host':
      return host;
    case 'hosts':
      return z.union([host, z.array(host).min(1)], { error: 'must be an address or a list of addresses' });
    case 'sip':
      return sipUri(value.what, value.needsUser === true);
    case 'listen':
      return listen;
    case 'keyFiles':
      return keyFiles;
  }
}

export const KEY_SCHEMAS = Object.fromEntries(
  SETTING_KEYS.map((key) => [key, schemaFor((SETTINGS[key] as SettingSpec).value)]),
) as Record<SettingKey, z.ZodType>;

// The file schema: nested strict objects (unknown keys are errors), every key optional, null meaning "not set"
// (so `host:` with nothing after it is allowed).
export type Tree = { [name: string]: Tree | SettingKey };

function settingsTree(): Tree {
  const root: Tree = {};
  for (const key of SETTING_KEYS) {
    const parts = key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Tree;
    }
    node[parts.at(-1) as string] = key;
  }
  return root;
}

export const TREE = settingsTree();

function schemaOf(tree: Tree): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, node] of Object.entries(tree)) {
    shape[name] = (typeof node === 'string' ? KEY_SCHEMAS[node] : schemaOf(node)).nullish();
  }
  return z.strictObject(shape, { error: 'must be a mapping of keys (key: value lines)' });
}

export const FILE_SCHEMA = schemaOf(TREE);
