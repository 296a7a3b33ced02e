// The controller's settings: defaults < config file < environment and flags, each wrong value named.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROLLER_SETTINGS, DEFAULT_CONTROLLER_CONFIG, resolveControllerConfig } from '../../src/config/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-settings-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(text: string): Promise<string> {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(path, text);
  return path;
}

describe('resolveControllerConfig', () => {
  it('gives the embedded defaults with nothing set', async () => {
    const { config, logLevel, file: read } = await resolveControllerConfig({}, { env: {} });
    expect(read).toBeNull();
    expect(logLevel).toBe('info');
    expect(config).toMatchObject({
      peer: { port: 6881 },
      http: { port: 8080 },
      edges: { host: '::', port: 7000, heartbeatMs: 2000, replicas: 2 },
      admin: { host: '127.0.0.1', port: 7071 },
      cacheBytes: DEFAULT_CONTROLLER_CONFIG.cacheBytes,
      trackers: [],
      announce: true,
      ims: null,
    });
    expect(config.dataDir).toMatch(/edgepeer-controller$/);
  });

  it('reads the ALTO settings (docs/topology.md) and refuses a cost map without a network map', async () => {
    expect((await resolveControllerConfig({}, { env: {} })).config.topology).toBeNull();
    const path = await file('alto-network-map: /etc/edgepeer/networkmap.json\nalto-home-address: 192.0.2.7\n');
    const { config } = await resolveControllerConfig(
      { 'alto-cost-map': 'http://alto.example/costmap' },
      { configPath: path, env: {} },
    );
    expect(config.topology).toEqual({
      networkMap: '/etc/edgepeer/networkmap.json',
      costMap: 'http://alto.example/costmap',
      refreshS: 300,
      homeAddress: '192.0.2.7',
      placement: 'demand',
    });
    const byLoad = await resolveControllerConfig(
      { 'alto-network-map': 'n.json', 'alto-placement': 'load' },
      { env: {} },
    );
    expect(byLoad.config.topology?.placement).toBe('load');
    await expect(
      resolveControllerConfig({ 'alto-network-map': 'n.json', 'alto-placement': 'nearest' }, { env: {} }),
    ).rejects.toThrow('alto-placement (--alto-placement or EDGEPEER_CONTROLLER_ALTO_PLACEMENT): "nearest" is neither');
    await expect(resolveControllerConfig({ 'alto-cost-map': 'c.json' }, { env: {} })).rejects.toThrow(
      'alto-cost-map (--alto-cost-map or EDGEPEER_CONTROLLER_ALTO_COST_MAP) needs alto-network-map too',
    );
    await expect(
      resolveControllerConfig({ 'alto-network-map': 'n.json', 'alto-home-address': 'edge1' }, { env: {} }),
    ).rejects.toThrow('"edge1" is not an IP address');
  });

  it('takes the file over the defaults and flags (or environment) over the file', async () => {
    const path = await file(
      [
        'data-dir: state',
        'edge-listen: 0.0.0.0:7100',
        'replicas: 3',
        'tracker: [http://t1.example/announce, http://t2.example/announce]',
        'cache-size: 64MiB',
        'no-http: true',
      ].join('\n'),
    );
    const { config, file: read } = await resolveControllerConfig({ replicas: 5 }, { configPath: path, env: {} });
    expect(read).toBe(path);
    expect(config.dataDir).toBe(join(dir, 'state'));
    expect(config.edges).toMatchObject({ host: '0.0.0.0', port: 7100, replicas: 5 });
    expect(config.trackers).toEqual(['http://t1.example/announce', 'http://t2.example/announce']);
    expect(config.cacheBytes).toBe(64 * 1024 * 1024);
    expect(config.http).toBeNull();
  });

  it('finds the file through EDGEPEER_CONTROLLER_CONFIG', async () => {
    const path = await file('heartbeat: 500\n');
    const { config } = await resolveControllerConfig({}, { env: { EDGEPEER_CONTROLLER_CONFIG: path } });
    expect(config.edges.heartbeatMs).toBe(500);
  });

  it.each([
    ['replicas: 0\n', /replicas in .*: must be an integer from 1 to 100, got 0/],
    ['no-such-thing: 1\n', /unknown setting no-such-thing/],
    ['ims-transport: sctp\n', /ims-transport in .*: must be one of udp, tcp, tls/],
    ['tracker: 3\n', /tracker in .*: must be a list of text values/],
    ['- a list\n', /must be a mapping of setting names to values/],
    ['edge-listen: nowhere\n', /edge-listen \(.*\): "nowhere" is not HOST:PORT/],
    ['cache-size: lots\n', /cache-size \(/],
    ['ims-registrar: sip:127.0.0.1:5060\n', /ims-registrar \(.*\) needs ims-impi too/],
  ])('refuses %j naming the setting', async (text, message) => {
    await expect(resolveControllerConfig({}, { configPath: await file(text), env: {} })).rejects.toMatchObject({
      code: 'EDGEPEER_CONFIG_INVALID',
      message: expect.stringMatching(message),
    });
  });

  it('reads the IMS password from its file, or refuses the registration without one', async () => {
    const password = join(dir, 'password');
    await writeFile(password, 'secret\n');
    const ims = 'ims-registrar: sip:127.0.0.1:5060\nims-impi: cdn@ims.example\nims-impu: sip:cdn@ims.example\n';
    const { config } = await resolveControllerConfig(
      { 'ims-password-file': password },
      { configPath: await file(ims), env: {} },
    );
    expect(config.ims).toMatchObject({
      registrar: 'sip:127.0.0.1:5060',
      impu: 'sip:cdn@ims.example',
      password: 'secret',
    });
    await expect(resolveControllerConfig({}, { configPath: await file(ims), env: {} })).rejects.toMatchObject({
      code: 'EDGEPEER_CONFIG_INVALID',
    });
  });

  it('has a default for every setting the controller needs one for', () => {
    for (const name of [
      'log-level',
      'peer-port',
      'http-port',
      'edge-listen',
      'admin-listen',
      'heartbeat',
      'replicas',
    ]) {
      expect(CONTROLLER_SETTINGS.find((setting) => setting.name === name)?.default, name).toBeDefined();
    }
  });

  it('turns storage control on with its settings, the statistics beside the tracker', async () => {
    const off = await resolveControllerConfig({}, { env: {} });
    expect(off.config.storageControl).toBeNull();
    const path = await file(
      [
        'tracker: [http://t.example:6969/announce]',
        'storage-control: true',
        'storage-control-low-copies: 1',
        'storage-control-high-copies: 3',
        'storage-control-hold: 5000',
        'storage-control-budget: 1GiB',
        'storage-control-top-up-rate: 2MiB',
        `storage-control-objects: ${'AB'.repeat(20)}`,
        'storage-control-catalogue: /srv/catalogue',
      ].join('\n'),
    );
    const { config } = await resolveControllerConfig({}, { configPath: path, env: {} });
    expect(config.storageControl).toEqual({
      settings: {
        lowCopies: 1,
        highCopies: 3,
        demandPerCopy: 0,
        copiesPerLeecher: 0,
        paceSeedsPerLeecher: 0,
        holdMs: 5000,
        ttlMs: 0,
        budgetBytes: 1024 ** 3,
        ingestBytesPerSecond: 0,
        opsPerMinute: 60,
        staleMs: 120_000,
        setAside: false,
      },
      statsUrl: 'http://t.example:6969/stats',
      scrape: null,
      objects: ['ab'.repeat(20)],
      intervalMs: 5000,
      topUpBytesPerSecond: 2 * 1024 * 1024,
      catalogue: '/srv/catalogue',
    });
  });

  it("follows a tracker's scrape with storage-control-scrape-url, needing no edgepeer tracker", async () => {
    const { config } = await resolveControllerConfig(
      { 'storage-control': true, 'storage-control-scrape-url': 'http://ot.example:6969/scrape' },
      { env: {} },
    );
    expect(config.storageControl?.scrape).toEqual({ url: 'http://ot.example:6969/scrape', intervalMs: 30_000 });
    const scraping = { 'storage-control': true, 'storage-control-scrape-url': 'http://ot.example:6969/scrape' };
    await expect(
      resolveControllerConfig({ ...scraping, 'storage-control-catalogue': '/srv/catalogue' }, { env: {} }),
    ).rejects.toMatchObject({ details: { subject: 'storage-control-catalogue' } });
    await expect(
      resolveControllerConfig({ ...scraping, 'storage-control-stats-url': 'http://t.example:6969/stats' }, { env: {} }),
    ).rejects.toMatchObject({ details: { subject: 'storage-control-scrape-url' } });
    await expect(
      resolveControllerConfig({ ...scraping, 'storage-control-scrape-interval': 120_000 }, { env: {} }),
    ).rejects.toMatchObject({ details: { subject: 'storage-control-scrape-interval' } });
    await expect(
      resolveControllerConfig(
        { 'storage-control': true, 'storage-control-scrape-url': 'udp://ot:1/scrape' },
        { env: {} },
      ),
    ).rejects.toMatchObject({ details: { subject: 'storage-control-scrape-url' } });
  });

  it('refuses storage control without hysteresis, without statistics, or with a bad size, naming the setting', async () => {
    const tracker = ['http://t.example:6969/announce'];
    await expect(
      resolveControllerConfig(
        { 'storage-control': true, tracker, 'storage-control-low-copies': 3, 'storage-control-high-copies': 3 },
        { env: {} },
      ),
    ).rejects.toMatchObject({ code: 'EDGEPEER_CONFIG_INVALID', details: { subject: 'storage-control-high-copies' } });
    await expect(resolveControllerConfig({ 'storage-control': true }, { env: {} })).rejects.toMatchObject({
      details: { subject: 'storage-control-stats-url' },
    });
    await expect(
      resolveControllerConfig({ 'storage-control': true, tracker, 'storage-control-budget': 'lots' }, { env: {} }),
    ).rejects.toMatchObject({ details: { subject: 'storage-control-budget' } });
    await expect(
      resolveControllerConfig({ 'storage-control': true, tracker, 'storage-control-objects': 'some' }, { env: {} }),
    ).rejects.toMatchObject({ details: { subject: 'storage-control-objects' } });
  });

  it('follows the allow-list with peer-auth-url and its token file, and refuses one without the other', async () => {
    expect((await resolveControllerConfig({}, { env: {} })).config.peerAuth).toBeNull();
    const { config } = await resolveControllerConfig(
      { 'peer-auth-url': 'http://t.example:6969/peer-auth/allowed', 'peer-auth-token-file': '/etc/edgepeer/t.token' },
      { env: {} },
    );
    expect(config.peerAuth).toEqual({
      url: 'http://t.example:6969/peer-auth/allowed',
      tokenFile: '/etc/edgepeer/t.token',
    });
    await expect(
      resolveControllerConfig({ 'peer-auth-url': 'http://t.example:6969/peer-auth/allowed' }, { env: {} }),
    ).rejects.toMatchObject({ details: { subject: 'peer-auth-token-file' } });
    await expect(
      resolveControllerConfig({ 'peer-auth-url': 'ftp://t.example', 'peer-auth-token-file': '/t' }, { env: {} }),
    ).rejects.toMatchObject({ details: { subject: 'peer-auth-url' } });
  });

  it('documents every setting in docs/configuration.md, with its environment variable', async () => {
    const { readFile } = await import('node:fs/promises');
    const { controllerEnvName } = await import('../../src/config/index.ts');
    const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const setting of CONTROLLER_SETTINGS) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`--${setting.name}\` |`));
      expect(row, setting.name).toBeDefined();
      expect(row).toContain(`\`${controllerEnvName(setting.name)}\``);
      expect(row).toContain(setting.description.replace(/\|/g, '\\|'));
    }
  });
});
