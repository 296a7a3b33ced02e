import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  type ConfigIssue,
  envName,
  formatIssue,
  issuesOf,
  locateConfigFile,
  parseConfigText,
  type ResolveOptions,
  redactConfig,
  resolveAgentConfig,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
} from '../../src/config/index.ts';
import { ConfigError, ERRORS } from '../../src/errors/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCount = 0;
async function configFile(text: string): Promise<string> {
  const file = join(dir, `config-${fileCount++}.yaml`);
  await writeFile(file, text);
  return file;
}

/** Resolves with nothing from the machine: no discovered file, only the env and flags given. */
function resolveWith(options: ResolveOptions) {
  return resolveAgentConfig({ configPath: null, env: {}, flags: {}, cwd: dir, ...options });
}

async function issuesFrom(options: ResolveOptions): Promise<ConfigIssue[]> {
  try {
    await resolveWith(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('EDGEPEER_CONFIG_INVALID');
    expect((err as ConfigError).exitCode).toBe(6);
    return issuesOf(err as ConfigError);
  }
  throw new Error('expected a ConfigError');
}

/** YAML of one key set to a value: peer.port -> "peer:\n  port: 1". */
function yamlOf(key: string, value: unknown): string {
  const object: Record<string, unknown> = {};
  const parts = key.split('.');
  let node = object;
  for (const part of parts.slice(0, -1)) {
    node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1) as string] = value;
  return stringify(object);
}

describe('precedence: defaults < file < env < flags', () => {
  it('takes each layer over the one below, key by key, and says where each value came from', async () => {
    const file = await configFile(
      ['peer:', '  port: 7001', '  host: 127.0.0.1', 'http:', '  port: 7101', 'cacheSize: 64MiB', ''].join('\n'),
    );
    const env = { EDGEPEER_PEER_PORT: '7002', EDGEPEER_HTTP_PORT: '7102' };
    const flags = { 'peer-port': 7003 };
    const { config, sources } = await resolveWith({ configPath: file, env, flags });
    expect(config.peer.port).toBe(7003);
    expect(sources['peer.port']).toBe('flag');
    expect(config.http?.port).toBe(7102);
    expect(sources['http.port']).toBe('env');
    expect(config.peer.host).toBe('127.0.0.1');
    expect(sources['peer.host']).toBe('file');
    expect(config.cacheBytes).toBe(64 * 1024 * 1024);
    expect(sources.cacheSize).toBe('file');
    expect(config.shutdownGraceMs).toBe(5000);
    expect(sources.shutdownGrace).toBe('default');
  });

  it('file over defaults, env over file, flags over env, for one key', async () => {
    const file = await configFile('shutdownGrace: 20s\n');
    const grace = async (options: ResolveOptions) => (await resolveWith(options)).config.shutdownGraceMs;
    expect(await grace({})).toBe(5000);
    expect(await grace({ configPath: file })).toBe(20_000);
    expect(await grace({ configPath: file, env: { EDGEPEER_SHUTDOWN_GRACE: '30s' } })).toBe(30_000);
    expect(
      await grace({ configPath: file, env: { EDGEPEER_SHUTDOWN_GRACE: '30s' }, flags: { 'shutdown-grace': '40s' } }),
    ).toBe(40_000);
  });

  it('lets a flag turn off what the file turns on, in both spellings', async () => {
    const file = await configFile('http:\n  enabled: true\nannounce: true\n');
    const off = await resolveWith({ configPath: file, flags: { 'no-http': true, 'no-announce': true } });
    expect(off.config.http).toBeNull();
    expect(off.config.announce).toBe(false);
    expect(off.sources['http.enabled']).toBe('flag');
    const allowNo = await resolveWith({ configPath: file, flags: { http: false, announce: false } });
    expect(allowNo.config.http).toBeNull();
    expect(allowNo.config.announce).toBe(false);
    // An oclif boolean that was not given reads false: that must not count as --no-http.
    const untouched = await resolveWith({ configPath: file, flags: { 'no-http': false, tracker: [] } });
    expect(untouched.config.http).not.toBeNull();
    expect(untouched.sources['http.enabled']).toBe('file');
    expect(untouched.sources.trackers).toBe('default');
  });

  it('replaces lists whole rather than merging them', async () => {
    const file = await configFile('trackers:\n  - http://a.example/announce\n');
    const { config } = await resolveWith({ configPath: file, flags: { tracker: ['udp://b.example:6969'] } });
    expect(config.trackers).toEqual(['udp://b.example:6969']);
  });
});

describe('environment', () => {
  it('reads every kind of value from text', async () => {
    const { config, sources } = await resolveWith({
      env: {
        EDGEPEER_DATA_DIR: 'store',
        EDGEPEER_PEER_PORT: '6889',
        EDGEPEER_PEER_HOST: '127.0.0.1, ::1',
        EDGEPEER_PEER_MSE: 'rc4',
        EDGEPEER_HTTP_ENABLED: 'yes',
        EDGEPEER_HTTP_POLICY: 'pull-through',
        EDGEPEER_HTTP_PUBLIC_URL: 'https://edge1.example.net',
        EDGEPEER_HTTP_CORS_ORIGIN: 'https://player.example.net',
        EDGEPEER_TRACKERS: 'http://a.example/announce,udp://b.example:6969',
        EDGEPEER_ANNOUNCE: 'off',
        EDGEPEER_CACHE_SIZE: '1g',
        EDGEPEER_SHUTDOWN_GRACE: '1m30s',
        EDGEPEER_HASH_THREADS: '3',
        EDGEPEER_LOG_LEVEL: 'debug',
        EDGEPEER_PEER_LIMITS_IDLE_TIMEOUT_MS: '5m',
        EDGEPEER_PEER_LIMITS_MAX_BLOCK_LENGTH: '32KiB',
        EDGEPEER_PEER_LIMITS_PREFETCH: 'false',
        EDGEPEER_HTTP_LIMITS_MAX_CONNECTIONS_PER_IP: '32',
        EDGEPEER_HTTP_LIMITS_REQUEST_TIMEOUT_MS: '5s',
        EDGEPEER_ADMIN_LISTEN: '[::1]:7071',
      },
    });
    expect(config.dataDir).toBe(join(dir, 'store'));
    expect(config.peer.port).toBe(6889);
    expect(config.peer.host).toEqual(['127.0.0.1', '::1']);
    expect(config.peer.mse).toBe('rc4');
    expect(config.http).toEqual({
      port: 8080,
      policy: 'pull-through',
      directReadMaxBytes: 1024 * 1024,
      publicUrl: 'https://edge1.example.net',
      corsOrigin: 'https://player.example.net',
      limits: { maxConnections: 4096, maxConnectionsPerIp: 32, requestTimeoutMs: 5000 },
    });
    expect(config.trackers).toEqual(['http://a.example/announce', 'udp://b.example:6969']);
    expect(config.announce).toBe(false);
    expect(config.cacheBytes).toBe(1024 ** 3);
    expect(config.shutdownGraceMs).toBe(90_000);
    expect(config.hashThreads).toBe(3);
    expect(config.logLevel).toBe('debug');
    expect(config.peer.limits?.idleTimeoutMs).toBe(300_000);
    expect(config.peer.limits?.maxBlockLength).toBe(32 * 1024);
    expect(config.peer.limits?.prefetch).toBe(false);
    expect(config.admin).toMatchObject({ host: '::1', port: 7071 });
    expect(sources['peer.limits.prefetch']).toBe('env');
  });

  it('treats an empty variable as unset', async () => {
    const { config, sources } = await resolveWith({ env: { EDGEPEER_PEER_PORT: '', EDGEPEER_TRACKERS: ' ' } });
    expect(config.peer.port).toBe(6881);
    expect(sources['peer.port']).toBe('default');
  });

  it('warns about EDGEPEER_* variables it does not know, with the likely intended one', async () => {
    const { warnings } = await resolveWith({ env: { EDGEPEER_PEER_PROT: '1', EDGEPEER_IMS_PASSWORD: 'x' } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/EDGEPEER_PEER_PROT.*EDGEPEER_PEER_PORT/);
  });
});

/** A value of the key's type that its checker must refuse, as YAML and as env text (undefined: none). */
function badValues(spec: SettingSpec): { yaml: unknown; text?: string } {
  switch (spec.value.type) {
    case 'int':
      return { yaml: spec.value.max + 1, text: 'many' };
    case 'size':
      return { yaml: 'lots', text: '12 parsecs' };
    case 'duration':
      return { yaml: 'soon', text: '5 fortnights' };
    case 'bool':
      return { yaml: 'yes please', text: 'maybe' };
    case 'enum':
      return { yaml: 'nope', text: 'nope' };
    case 'string':
      return spec.value.noSpaces ? { yaml: 'two words', text: 'two words' } : { yaml: 42 };
    case 'url':
      return { yaml: 'ftp://x.example/', text: 'ftp://x.example/' };
    case 'urls':
      return { yaml: ['ftp://x.example/'], text: 'gopher://x.example/' };
    case 'host':
      return { yaml: 'two words', text: 'a/b' };
    case 'hosts':
      return { yaml: ['a b'], text: 'a b' };
    case 'sip':
      return { yaml: 'http://x.example', text: 'mailto:x@example.net' };
    case 'listen':
      return { yaml: 'port 7070', text: '127.0.0.1' };
    case 'keyFiles':
      return { yaml: ['no-file-given'], text: 'bad id=/x' };
  }
}

describe('validation errors name the key', () => {
  it.each(SETTING_KEYS)('%s: in the file, with the file and line', async (key) => {
    const { yaml } = badValues(SETTINGS[key] as SettingSpec);
    // Two lines before it, so the line number means something.
    const text = `# a comment\n# another\n${yamlOf(key, yaml)}`;
    const file = await configFile(text);
    const line = text.split('\n').findIndex((l) => l.includes(JSON.stringify(yaml).replace(/^\["?|"?\]$|"/g, ''))) + 1;
    const issues = await issuesFrom({ configPath: file });
    expect(issues).toHaveLength(1);
    const issue = issues[0] as ConfigIssue;
    expect(issue.key).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')}(\\[\\d+\\])?$`));
    expect(line).toBeGreaterThan(2);
    expect(issue.origin).toEqual({ kind: 'file', file, line });
    expect(issue.problem).toMatch(/^must be /);
    expect(formatIssue(issue)).toContain(`${file} line ${line}`);
  });

  it.each(SETTING_KEYS.filter((key) => badValues(SETTINGS[key] as SettingSpec).text !== undefined))(
    '%s: in the environment, naming the variable',
    async (key) => {
      const text = badValues(SETTINGS[key] as SettingSpec).text as string;
      const issues = await issuesFrom({ env: { [envName(key)]: text } });
      expect(issues).toEqual([expect.objectContaining({ key, origin: { kind: 'env', name: envName(key) } })]);
      expect(formatIssue(issues[0] as ConfigIssue)).toMatch(new RegExp(`^${key}: must be .* from ${envName(key)}$`));
    },
  );

  it('reads like the example in the issue', async () => {
    const file = await configFile('# edge 1\npeer:\n  host: "::"\n  port: 70000\n');
    const err = await resolveWith({ configPath: file }).catch((e: unknown) => e as ConfigError);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(
      `peer.port: must be an integer from 0 to 65535 (got 70000) in ${file} line 4`,
    );
    expect((err as ConfigError).details.subject).toBe('peer.port');
  });

  it('names the flag a bad value came from', async () => {
    const issues = await issuesFrom({ flags: { 'cache-size': 'huge' } });
    expect(formatIssue(issues[0] as ConfigIssue)).toMatch(
      /^cacheSize: must be a size .* \(got "huge"\) from --cache-size$/,
    );
    const cors = await issuesFrom({ flags: { 'cors-origin': 'https://x.example/path' } });
    expect(formatIssue(cors[0] as ConfigIssue)).toMatch(
      /^http\.corsOrigin: must be '\*', 'off' or one origin .* from --cors-origin$/,
    );
    const mse = await issuesFrom({ flags: { 'peer-mse': 'yes' } });
    expect(formatIssue(mse[0] as ConfigIssue)).toMatch(/^peer\.mse: .*plaintext.*rc4.*off.* from --peer-mse$/);
  });

  it('reports every problem of a file at once, in line order', async () => {
    const file = await configFile('http:\n  port: -1\n  policy: maybe\npeer:\n  port: x\n');
    const issues = await issuesFrom({ configPath: file });
    expect(issues.map((i) => [i.key, i.origin.kind === 'file' && i.origin.line])).toEqual([
      ['http.port', 2],
      ['http.policy', 3],
      ['peer.port', 5],
    ]);
  });

  it('names a section that is not a mapping', async () => {
    const issues = await issuesFrom({ configPath: await configFile('peer: 6881\n') });
    expect(issues[0]).toMatchObject({ key: 'peer', problem: expect.stringMatching(/mapping/) });
  });

  it('points at YAML syntax errors by line', async () => {
    const issues = await issuesFrom({ configPath: await configFile('peer:\n  port: 1\n port: 2\n  x: [\n') });
    expect(issues[0]?.problem).toMatch(/not valid YAML/);
    expect(issues[0]?.origin).toMatchObject({ kind: 'file', line: expect.any(Number) });
  });

  it('refuses a key given twice', async () => {
    const issues = await issuesFrom({ configPath: await configFile('cacheSize: 1g\ncacheSize: 2g\n') });
    expect(issues[0]?.problem).toMatch(/not valid YAML.*unique/i);
    expect(issues[0]?.origin).toMatchObject({ line: 2 });
  });

  it('says which file is missing', async () => {
    const missing = join(dir, 'nope.yaml');
    const issues = await issuesFrom({ configPath: missing });
    expect(issues[0]).toMatchObject({ key: '', problem: 'no such file', origin: { kind: 'file', file: missing } });
  });

  it('names the scrub window that is not a time of day, with its line', async () => {
    const issues = await issuesFrom({ configPath: await configFile('scrub:\n  window: "25:00-06:00"\n') });
    expect(issues[0]).toMatchObject({ key: 'scrub.window', origin: { kind: 'file', line: 2 } });
    expect(issues[0]?.problem).toMatch(/HH:MM-HH:MM.*"25:00-06:00"/);
  });

  it('checks keys that only make sense together', async () => {
    const limits = await issuesFrom({
      env: { EDGEPEER_PEER_LIMITS_KEEP_ALIVE_INTERVAL_MS: '10m', EDGEPEER_PEER_LIMITS_IDLE_TIMEOUT_MS: '5m' },
    });
    expect(limits[0]).toMatchObject({ key: 'peer.limits.keepAliveIntervalMs', origin: { kind: 'env' } });
    const ims = await issuesFrom({ configPath: await configFile('ims:\n  registrar: sip:pcscf.example.net\n') });
    expect(ims.map((i) => i.key)).toEqual(['ims.impi', 'ims.impu']);
    expect(ims[0]?.origin).toMatchObject({ kind: 'file', line: 2 });
  });
});

describe('unknown keys', () => {
  it('are errors, at any depth, with the line and the likely intended key', async () => {
    const file = await configFile('peer:\n  prot: 6881\n  limits:\n    maxConections: 10\ndata_dir: /srv\nbogus: 1\n');
    const issues = await issuesFrom({ configPath: file });
    expect(issues.map((i) => [i.key, i.problem, i.origin.kind === 'file' && i.origin.line])).toEqual([
      ['peer.prot', 'unknown key (did you mean peer.port?)', 2],
      ['peer.limits.maxConections', 'unknown key (did you mean peer.limits.maxConnections?)', 4],
      ['data_dir', 'unknown key (did you mean dataDir?)', 5],
      ['bogus', 'unknown key', 6],
    ]);
  });

  it('tell where the IMS password goes instead', async () => {
    const issues = await issuesFrom({ configPath: await configFile('ims:\n  password: hunter2\n') });
    expect(issues[0]?.key).toBe('ims.password');
    expect(issues[0]?.problem).toMatch(/ims\.passwordFile.*EDGEPEER_IMS_PASSWORD/);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });
});

describe('file contents', () => {
  it('takes relative paths from the file folder, and null as unset', async () => {
    await mkdir(join(dir, 'etc'), { recursive: true });
    const file = join(dir, 'etc', 'edge.yaml');
    await writeFile(file, 'dataDir: ../store\npeer:\n  host:\nadmin:\n  tokenFile: token\n');
    const { config, sources } = await resolveWith({ configPath: file });
    expect(config.dataDir).toBe(join(dir, 'store'));
    expect(config.admin?.tokenFile).toBe(join(dir, 'etc', 'token'));
    expect(config.peer.host).toBeUndefined();
    expect(sources['peer.host']).toBeUndefined();
  });

  it('reads an empty file and a file of comments as no settings', async () => {
    for (const text of ['', '# nothing here\n']) {
      const result = await parseConfigText(text, '/x.yaml');
      expect(result).toEqual({ layer: new Map(), issues: [] });
    }
  });

  it('reads one URL where a list of URLs goes as a list of one (controller.url, trackers)', async () => {
    const one = await configFile('controller:\n  url: http://c1.example:7000\ntrackers: http://t.example/announce\n');
    const { config } = await resolveWith({ configPath: one });
    expect(config.controller).toEqual({ urls: ['http://c1.example:7000'], enrolToken: null });
    expect(config.trackers).toEqual(['http://t.example/announce']);
    const two = await configFile('controller:\n  url: [http://c1.example:7000, http://c2.example:7000]\n');
    expect((await resolveWith({ configPath: two })).config.controller?.urls).toEqual([
      'http://c1.example:7000',
      'http://c2.example:7000',
    ]);
  });

  it('reads sizes and durations as numbers too (bytes, seconds; ms for *Ms limits)', async () => {
    const file = await configFile('cacheSize: 1048576\nshutdownGrace: 2\npeer:\n  limits:\n    idleTimeoutMs: 90000\n');
    const { config } = await resolveWith({ configPath: file });
    expect(config.cacheBytes).toBe(1048576);
    expect(config.shutdownGraceMs).toBe(2000);
    expect(config.peer.limits?.idleTimeoutMs).toBe(90_000);
  });

  it('refuses an admin unix socket for now, saying so', async () => {
    const issues = await issuesFrom({ env: { EDGEPEER_ADMIN_LISTEN: '/run/edgepeer/admin.sock' } });
    expect(issues[0]?.problem).toMatch(/unix socket/);
  });
});

describe('locating the config file', () => {
  it('prefers --config, then EDGEPEER_CONFIG, then the system file (root) or the user file', async () => {
    const system = await configFile('');
    const xdg = join(dir, 'xdg');
    await mkdir(join(xdg, 'edgepeer'), { recursive: true });
    const user = join(xdg, 'edgepeer', 'config.yaml');
    const env = { XDG_CONFIG_HOME: xdg, EDGEPEER_CONFIG: 'from-env.yaml' };
    expect(locateConfigFile({ configPath: 'flag.yaml', env, systemFile: system }).file).toMatch(/flag\.yaml$/);
    expect(locateConfigFile({ env, systemFile: system }).file).toMatch(/from-env\.yaml$/);
    const plain = { XDG_CONFIG_HOME: xdg };
    expect(locateConfigFile({ env: plain, systemFile: system, isRoot: true }).file).toBe(system);
    // The user file does not exist yet: a non-root user falls back to the system file, then to none.
    expect(locateConfigFile({ env: plain, systemFile: system, isRoot: false }).file).toBe(system);
    expect(locateConfigFile({ env: plain, systemFile: join(dir, 'none.yaml'), isRoot: false }).file).toBeNull();
    await writeFile(user, '');
    expect(locateConfigFile({ env: plain, systemFile: system, isRoot: false }).file).toBe(user);
    expect(locateConfigFile({ configPath: null, env, systemFile: system }).file).toBeNull();
  });

  it('uses the file EDGEPEER_CONFIG names', async () => {
    const file = await configFile('peer:\n  port: 7777\n');
    const { config, file: used } = await resolveAgentConfig({ env: { EDGEPEER_CONFIG: file } });
    expect(used).toBe(file);
    expect(config.peer.port).toBe(7777);
  });
});

describe('IMS', () => {
  const identity =
    'ims:\n  registrar: sip:pcscf.example.net:5060\n  impi: edge1@example.net\n  impu: sip:edge1@example.net\n';
  const secret = 's3cret-Pa55word';

  it('reads the password from ims.passwordFile, and never shows it', async () => {
    const passwordFile = join(dir, 'ims-password');
    await writeFile(passwordFile, `${secret}\n`, { mode: 0o600 });
    const file = await configFile(`${identity}  passwordFile: ${passwordFile}\n  transport: tcp\n`);
    const resolved = await resolveWith({ configPath: file });
    expect(resolved.config.ims).toEqual({
      registrar: 'sip:pcscf.example.net:5060',
      impi: 'edge1@example.net',
      impu: 'sip:edge1@example.net',
      password: secret,
      transport: 'tcp',
      expires: 600_000,
    });
    expect(resolved.sources['ims.password']).toBe('file');
    expect(resolved.warnings).toEqual([]);
    const shown = JSON.stringify({ ...resolved, config: redactConfig(resolved.config) });
    expect(shown).not.toContain(secret);
    expect(shown).toContain('(set)');
  });

  it('trusts the CAs of ims.tlsCaFile for the registrar, checks the file, and shows no certificate', async () => {
    const passwordFile = join(dir, 'ims-password-ca');
    await writeFile(passwordFile, secret, { mode: 0o600 });
    const caFile = fileURLToPath(new URL('../ims/fixtures/tls-cert.pem', import.meta.url));
    const file = await configFile(`${identity}  passwordFile: ${passwordFile}\n  tlsCaFile: ${caFile}\n`);
    const resolved = await resolveWith({ configPath: file });
    expect(resolved.config.ims?.tls?.ca).toEqual(await readFile(caFile));
    expect(JSON.stringify(redactConfig(resolved.config))).not.toContain('BEGIN CERTIFICATE');
    const notPem = join(dir, 'not-a-ca.pem');
    await writeFile(notPem, 'hello\n');
    const issues = await issuesFrom({ configPath: file, flags: { 'ims-tls-ca': notPem } });
    expect(issues[0]).toMatchObject({
      key: 'ims.tlsCaFile',
      problem: expect.stringMatching(/holds no PEM certificate/),
    });
  });

  it('reads the HTTPS certificate and key, checks they belong together, and never shows the key', async () => {
    const cert = fileURLToPath(new URL('../ims/fixtures/tls-cert.pem', import.meta.url));
    const key = fileURLToPath(new URL('../ims/fixtures/tls-key.pem', import.meta.url));
    const file = await configFile(`https:\n  port: 8443\n  certFile: ${cert}\n  keyFile: ${key}\n`);
    const resolved = await resolveWith({ configPath: file });
    expect(resolved.config.https).toEqual({ port: 8443, cert: await readFile(cert), key: await readFile(key) });
    const shown = JSON.stringify(redactConfig(resolved.config));
    expect(shown).not.toContain('PRIVATE KEY');
    expect(shown).toContain('"key":"(set)"');

    const otherKey = join(dir, 'other-key.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(otherKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const mismatch = await issuesFrom({ configPath: file, flags: { 'https-key': otherKey } });
    expect(mismatch[0]).toMatchObject({
      key: 'https.keyFile',
      problem: expect.stringMatching(/is not the private key of the certificate/),
    });
    const missing = await issuesFrom({ configPath: await configFile('https:\n  port: 8443\n') });
    expect(missing.map((issue) => issue.key)).toEqual(['https.certFile', 'https.keyFile']);
    const noHttp = await issuesFrom({ configPath: file, flags: { http: false } });
    expect(formatIssue(noHttp[0] as ConfigIssue)).toMatch(/^https\.port: needs http\.enabled/);
  });

  it('takes EDGEPEER_IMS_PASSWORD over a password file named in the config file', async () => {
    const passwordFile = join(dir, 'ims-password-2');
    await writeFile(passwordFile, 'from-file', { mode: 0o640 });
    const file = await configFile(`${identity}  passwordFile: ${passwordFile}\n`);
    const env = { EDGEPEER_IMS_PASSWORD: 'from-env' };
    expect((await resolveWith({ configPath: file, env })).config.ims?.password).toBe('from-env');
    const flags = { 'ims-password-file': passwordFile };
    const byFlag = await resolveWith({ configPath: file, env, flags });
    expect(byFlag.config.ims?.password).toBe('from-file');
    expect(byFlag.sources['ims.password']).toBe('flag');
  });

  it('needs a password, and a readable non-empty file, without quoting it', async () => {
    const none = await issuesFrom({ configPath: await configFile(identity) });
    expect(none[0]).toMatchObject({ key: 'ims.passwordFile', problem: expect.stringMatching(/required/) });
    const missing = await issuesFrom({ configPath: await configFile(`${identity}  passwordFile: nope\n`) });
    expect(missing[0]).toMatchObject({ key: 'ims.passwordFile', problem: expect.stringMatching(/no such file/) });
    const empty = join(dir, 'empty-password');
    await writeFile(empty, '\n');
    const emptyIssues = await issuesFrom({ configPath: await configFile(`${identity}  passwordFile: ${empty}\n`) });
    expect(emptyIssues[0]?.problem).toMatch(/is empty/);
  });

  it('keeps the password out of every error message', async () => {
    const passwordFile = join(dir, 'ims-password-3');
    await writeFile(passwordFile, secret, { mode: 0o600 });
    const file = await configFile(`${identity}  passwordFile: ${passwordFile}\n  expires: forever\n`);
    const err = await resolveWith({ configPath: file, env: { EDGEPEER_IMS_PASSWORD: secret } }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(`${err.message}${JSON.stringify(err.details)}`).not.toContain(secret);
  });

  it('warns when the password file is readable by anyone', async () => {
    const passwordFile = join(dir, 'ims-password-open');
    await writeFile(passwordFile, secret);
    await chmod(passwordFile, 0o644);
    const { warnings } = await resolveWith({
      configPath: await configFile(`${identity}  passwordFile: ${passwordFile}\n`),
    });
    expect(warnings[0]).toMatch(/any user/);
  });

  it('takes AKA keys from the environment only', async () => {
    const env = {
      EDGEPEER_IMS_AKA_K: '465b5ce8b199b49faa5f0a2ee238a6bc',
      EDGEPEER_IMS_AKA_OPC: 'cd63cb71954a9f4e48a5994e37a02baf',
    };
    const { config, sources } = await resolveWith({ configPath: await configFile(identity), env });
    expect(config.ims?.aka).toEqual({ k: env.EDGEPEER_IMS_AKA_K, opc: env.EDGEPEER_IMS_AKA_OPC });
    expect(config.ims?.password).toBeUndefined();
    expect(sources['ims.aka']).toBe('env');
  });

  it('is off with no identity', async () => {
    expect((await resolveWith({})).config.ims).toBeNull();
  });
});

describe('peerAuth', () => {
  it('is off by default; tracker carries the allow-list URL and token file, and needs both', async () => {
    expect((await resolveWith({})).config.peerAuth).toBeNull();
    const on = await resolveWith({
      env: {
        EDGEPEER_PEER_AUTH: 'tracker',
        EDGEPEER_PEER_AUTH_URL: 'http://t.example:6969/peer-auth/allowed',
        EDGEPEER_PEER_AUTH_TOKEN_FILE: '/etc/edgepeer/tracker.token',
      },
    });
    expect(on.config.peerAuth).toEqual({
      url: 'http://t.example:6969/peer-auth/allowed',
      tokenFile: '/etc/edgepeer/tracker.token',
    });
    const issues = await issuesFrom({ env: { EDGEPEER_PEER_AUTH: 'tracker' } });
    expect(issues.map((issue) => issue.key).sort()).toEqual(['peerAuthTokenFile', 'peerAuthUrl']);
  });

  it('on an edge of a controller without a URL or token file, follows the allow-list the controller relays', async () => {
    const env = { EDGEPEER_PEER_AUTH: 'tracker', EDGEPEER_CONTROLLER_URL: 'http://c1.example:7000' };
    expect((await resolveWith({ env })).config.peerAuth).toEqual({ from: 'controller' });
    // One of the two given: the tracker it is, and the other is missing.
    const issues = await issuesFrom({
      env: { ...env, EDGEPEER_PEER_AUTH_URL: 'http://t.example:6969/peer-auth/allowed' },
    });
    expect(issues.map((issue) => issue.key)).toEqual(['peerAuthTokenFile']);
  });
});

describe('every key is reachable from the file and the environment', () => {
  // A good value per type, so a key that the layers forget to carry would show here.
  const good: Record<string, [unknown, string]> = {
    int: [2, '2'],
    size: ['64KiB', '64KiB'],
    duration: ['2m', '2m'],
    bool: [false, 'false'],
    string: ['/x/y', '/x/y'],
    url: ['https://e.example/', 'https://e.example/'],
    urls: [['udp://t.example:1'], 'udp://t.example:1'],
    host: ['127.0.0.2', '127.0.0.2'],
    hosts: ['127.0.0.2', '127.0.0.2'],
    listen: ['127.0.0.2:2', '127.0.0.2:2'],
    keyFiles: [['k1=/x/key'], 'k1=/x/key'],
  };
  const goodFor = (key: SettingKey): [unknown, string] => {
    const spec = SETTINGS[key] as SettingSpec;
    if (spec.value.type === 'enum') return [spec.value.values[1], spec.value.values[1] as string];
    if (spec.value.type === 'sip') return ['sip:u@e.example', 'sip:u@e.example'];
    if (spec.value.type === 'string' && spec.value.noSpaces) return ['u@e.example', 'u@e.example'];
    if (spec.value.type === 'string' && spec.value.check) return [spec.example, spec.example as string];
    if (spec.value.type === 'urls' && !spec.value.protocols.includes('udp:')) {
      return [['http://c.example:7000'], 'http://c.example:7000'];
    }
    return good[spec.value.type] as [unknown, string];
  };
  const imsBase = { 'ims.registrar': 'sip:r.example', 'ims.impi': 'u@e.example', 'ims.impu': 'sip:u@e.example' };

  // HTTPS keys come as a set: the other two from the environment (files not read).
  const httpsBase = { 'https.port': '2', 'https.certFile': '/x/cert.pem', 'https.keyFile': '/x/key.pem' };

  it.each(SETTING_KEYS.filter((k) => k !== 'peer.limits.keepAliveIntervalMs'))('%s', async (key) => {
    const [yamlValue, text] = goodFor(key);
    const imsEnv = key.startsWith('ims.')
      ? { ...Object.fromEntries(Object.entries(imsBase).map(([k, v]) => [envName(k), v])), EDGEPEER_IMS_PASSWORD: 'p' }
      : key.startsWith('https.')
        ? Object.fromEntries(
            Object.entries(httpsBase)
              .filter(([k]) => k !== key)
              .map(([k, v]) => [envName(k), v]),
          )
        : key === 'peerAuth'
          ? // peerAuth: tracker needs the allow-list's URL and token file
            { EDGEPEER_PEER_AUTH_URL: 'http://t.example/peer-auth/allowed', EDGEPEER_PEER_AUTH_TOKEN_FILE: '/x/t' }
          : {};
    const fromFile = await resolveWith({
      configPath: await configFile(yamlOf(key, yamlValue)),
      env: imsEnv,
      readFiles: key !== 'ims.passwordFile' && key !== 'ims.tlsCaFile' && !key.startsWith('https.'),
    });
    expect(fromFile.sources[key]).toBe(key.startsWith('ims.') && key in imsBase ? 'env' : 'file');
    const fromEnv = await resolveWith({
      env: { ...imsEnv, [envName(key)]: text },
      readFiles: key !== 'ims.passwordFile' && key !== 'ims.tlsCaFile' && !key.startsWith('https.'),
    });
    expect(fromEnv.sources[key]).toBe('env');
  });
});

describe('config files that cannot be read', () => {
  it('are configuration errors naming the file', async () => {
    const folder = await issuesFrom({ configPath: dir });
    expect(folder[0]).toMatchObject({
      key: '',
      problem: 'is a folder, not a file',
      origin: { kind: 'file', file: dir },
    });
  });
});

describe('http.threads', () => {
  it('serves on that many threads, and is left out at 1', async () => {
    expect((await resolveWith({ env: { EDGEPEER_HTTP_THREADS: '2' } })).config.http?.threads).toBe(2);
    expect((await resolveWith({ env: { EDGEPEER_HTTP_THREADS: '1' } })).config.http?.threads).toBeUndefined();
  });

  it('refuses more than 1 with what only the agent thread does, naming it', async () => {
    const issues = await issuesFrom({
      env: {
        EDGEPEER_HTTP_THREADS: '2',
        EDGEPEER_HTTP_POLICY: 'pull-through',
        EDGEPEER_HTTP_ACCESS_LOG: '/tmp/access.log',
        EDGEPEER_QOS_RATE: '1000000',
        EDGEPEER_STORAGE_CONTROL_TOP_UP_RATE: '1000000',
      },
    });
    expect(issues.map((issue) => issue.key)).toEqual(['http.threads', 'http.threads', 'http.threads', 'http.threads']);
    expect(issues.map((issue) => issue.problem).join('\n')).toMatch(
      /pull-through \(http.policy\)[\s\S]*access log \(http.accessLog\)[\s\S]*egress limits \(qos.rate\)[\s\S]*top-up \(storageControl.topUpRate\)/,
    );
  });
});

describe('peer.threads', () => {
  it('serves the peer wire on that many threads, and is left out at 1', async () => {
    expect((await resolveWith({ env: { EDGEPEER_PEER_THREADS: '2' } })).config.peer.threads).toBe(2);
    expect((await resolveWith({ env: { EDGEPEER_PEER_THREADS: '1' } })).config.peer.threads).toBeUndefined();
  });

  it('refuses more than 1 with what only the agent thread does, naming it', async () => {
    const issues = await issuesFrom({
      env: {
        EDGEPEER_PEER_THREADS: '2',
        EDGEPEER_PEER_AUTH: 'tracker',
        EDGEPEER_PEER_AUTH_URL: 'http://127.0.0.1:6969/allow-list',
        EDGEPEER_PEER_AUTH_TOKEN_FILE: '/tmp/token',
        EDGEPEER_ACCOUNTING_DIR: '/tmp/accounting',
        EDGEPEER_QOS_RATE: '1000000',
        EDGEPEER_STORAGE_CONTROL_TOP_UP_RATE: '1000000',
      },
    });
    expect(issues.map((issue) => issue.key)).toEqual(['peer.threads', 'peer.threads', 'peer.threads', 'peer.threads']);
    expect(issues.map((issue) => issue.problem).join('\n')).toMatch(
      /peerAuth tracker\) \(peerAuth\)[\s\S]*accounting records \(accounting.dir\)[\s\S]*egress limits \(qos.rate\)[\s\S]*top-up \(storageControl.topUpRate\)/,
    );
  });

  it('is refused as an invalid configuration (EDGEPEER_CONFIG_INVALID, exit code of the catalogue)', async () => {
    const err = await resolveWith({ env: { EDGEPEER_PEER_THREADS: '2', EDGEPEER_QOS_RATE: '1000000' } }).catch(
      (caught: unknown) => caught,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('EDGEPEER_CONFIG_INVALID');
    expect((err as ConfigError).exitCode).toBe(ERRORS.EDGEPEER_CONFIG_INVALID.exitCode);
    expect((err as Error).message).toMatch(/peer\.threads/);
  });
});
