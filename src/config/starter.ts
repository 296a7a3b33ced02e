// The commented starter file `edgepeer config init` writes: every key with its default and a one-line
// explanation, commented out, so that the file changes nothing until a line is uncommented.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fromSystemError, InvalidArgumentError } from '../errors/index.ts';
import { defaultDataDir } from './paths.ts';
import {
  EXTRA_ENV,
  envName,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
  showValue,
} from './settings.ts';

/** A line before each section. */
export const SECTION_DOCS: Record<string, string> = {
  peer: 'Peer wire server: BitTorrent clients connect here.',
  'peer.limits': 'Limits of the peer wire server (durations: 30s or milliseconds; sizes: 16KiB or bytes).',
  http: 'HTTP range server: objects, pieces and BEP 19 web seeds.',
  https: 'HTTPS beside HTTP, with the http settings; on when https.port is set (with a certificate and its key).',
  ims: `IMS registration (SIP REGISTER, 3GPP TS 24.229); on when ims.registrar is set. Password: ims.passwordFile or ${EXTRA_ENV.password}; IMS AKA keys: ${EXTRA_ENV.akaK} with ${EXTRA_ENV.akaOp} or ${EXTRA_ENV.akaOpc}.`,
  admin: 'Local admin API, used by ingest, purge, ls, show and status while the agent runs.',
  storageControl:
    'Network Storage Control (docs/policy.md): ingest pieces swarms lack, purge plentiful ones; on when enabled.',
};

const HEADER = `# edgepeer agent configuration (YAML).
#
# Every key is shown with its default, commented out: uncomment a line (and its section line) to change it.
# Precedence, lowest first: defaults < this file < environment (EDGEPEER_*) < flags of \`edgepeer agent\`.
# A key's environment variable follows its path: peer.port -> EDGEPEER_PEER_PORT.
# Relative paths are taken from this file's folder. Unknown keys are errors.
# Check it with: edgepeer config check FILE. Reference: docs/configuration.md.`;

export interface StarterOptions {
  /** The data dir the file shows as default (default: the one for this user). */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** A default as YAML: plain where YAML reads it back as the same string, else quoted (JSON is valid YAML). */
function yamlValue(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  const plain =
    /^[A-Za-z0-9/._~+-][A-Za-z0-9/._~+:@-]*$/.test(value) && !/^(true|false|null|~|[-+.\d][\d.eE+-]*)$/i.test(value);
  return plain ? value : JSON.stringify(value);
}

/** The default (or example) text of a key, as YAML. */
function valueText(key: SettingKey, spec: SettingSpec, dataDir: string): string {
  if (key === 'dataDir') return yamlValue(dataDir);
  if (key === 'admin.tokenFile') return yamlValue(join(dataDir, 'admin.token'));
  if (spec.default !== undefined) return yamlValue(showValue(key, spec.default));
  return spec.example ?? '""';
}

export function renderStarterConfig(options: StarterOptions = {}): string {
  const env = options.env ?? process.env;
  const { EDGEPEER_DATA_DIR: _, ...withoutDataDir } = env;
  const dataDir = options.dataDir ?? defaultDataDir(withoutDataDir);
  const lines = [HEADER];
  const opened: string[] = [];
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS[key];
    const parts = key.split('.');
    const sections = parts.slice(0, -1);
    // Open the sections this key lives in that the previous key did not.
    let same = 0;
    while (same < sections.length && opened[same] === sections[same]) same++;
    opened.length = same;
    for (let depth = same; depth < sections.length; depth++) {
      const path = sections.slice(0, depth + 1).join('.');
      const indent = '  '.repeat(depth);
      lines.push('');
      if (SECTION_DOCS[path]) lines.push(`${indent}# ${SECTION_DOCS[path]}`);
      lines.push(`${indent}${sections[depth]}:`);
      opened.push(sections[depth] as string);
    }
    const indent = '  '.repeat(sections.length);
    const defaultNote =
      spec.default === undefined && spec.defaultText !== undefined ? ` Default: ${spec.defaultText}.` : '';
    if (sections.length === 0) lines.push('');
    lines.push(`${indent}# ${spec.doc}${defaultNote} Env: ${envName(key)}.`);
    lines.push(`${indent}#${parts.at(-1)}: ${valueText(key, spec, dataDir)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the starter file, creating its folder; refuses to replace an existing file unless `force`. */
export async function writeStarterConfig(
  file: string,
  options: StarterOptions & { force?: boolean } = {},
): Promise<{ file: string; bytes: number; replaced: boolean }> {
  file = resolve(file);
  const text = renderStarterConfig(options);
  const existed = existsSync(file);
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text, { flag: options.force ? 'w' : 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new InvalidArgumentError(`${file} exists: give --force to replace it`, { subject: file });
    }
    throw fromSystemError(err, file);
  }
  return { file, bytes: Buffer.byteLength(text), replaced: existed };
}
