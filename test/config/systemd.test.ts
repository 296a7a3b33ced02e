import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHUTDOWN_MARGIN_MS } from '../../src/agent/index.ts';
import {
  chooseServiceNode,
  edgepeerEntry,
  installService,
  nodeVersionOf,
  renderServiceUnit,
  type UnitOptions,
} from '../../src/config/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-systemd-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base: UnitOptions = {
  user: 'edgepeer',
  configFile: '/etc/edgepeer/config.yaml',
  dataDir: '/var/lib/edgepeer',
  node: '/usr/bin/node',
  entry: '/usr/lib/node_modules/edgepeer/bin/run.js',
  ports: [6881, 8080, 7070],
  shutdownGraceMs: 5000,
  maxOpenFiles: 65536,
};

/** The unit's directives as [key, value] pairs, in order, without comments. */
function directives(unit: string): Array<[string, string]> {
  return unit
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
const directive = (unit: string, key: string) => directives(unit).find(([k]) => k === key)?.[1];

describe('renderServiceUnit', () => {
  it('runs edgepeer agent as the user, restarted on failure, reloaded by SIGHUP, sandboxed', () => {
    const unit = renderServiceUnit(base);
    expect(unit).toMatch(/^\[Unit\]$[\s\S]*^\[Service\]$[\s\S]*^\[Install\]$/m);
    expect(directive(unit, 'ExecStart')).toBe(
      '/usr/bin/node /usr/lib/node_modules/edgepeer/bin/run.js agent --config /etc/edgepeer/config.yaml --data-dir /var/lib/edgepeer',
    );
    expect(directive(unit, 'User')).toBe('edgepeer');
    expect(directive(unit, 'Group')).toBe('edgepeer');
    expect(directive(unit, 'Restart')).toBe('on-failure');
    expect(directive(unit, 'ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['LimitNOFILE', '65536'],
      ['StateDirectory', 'edgepeer'],
      ['TimeoutStopSec', '15s'],
      ['WantedBy', 'multi-user.target'],
    ]) {
      expect(directive(unit, key as string), key).toBe(value);
    }
    expect(directive(unit, 'AmbientCapabilities')).toBeUndefined();
    // The data dir under /var/lib is systemd's StateDirectory, writable without ReadWritePaths.
    expect(directive(unit, 'ReadWritePaths')).toBeUndefined();
    const keys = directives(unit).map(([k]) => k);
    expect(keys).not.toContain('MemoryDenyWriteExecute');
  });

  it('grants CAP_NET_BIND_SERVICE, and only that, for a port below 1024', () => {
    const unit = renderServiceUnit({ ...base, ports: [6881, 80, 7070] });
    expect(directive(unit, 'CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(directive(unit, 'AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    // Port 0 (any free port) is not privileged.
    expect(directive(renderServiceUnit({ ...base, ports: [0, 0, 0] }), 'CapabilityBoundingSet')).toBe('');
  });

  it('makes a data dir outside /var/lib writable, and quotes what systemd would split or expand', () => {
    const unit = renderServiceUnit({
      ...base,
      dataDir: '/srv/edge peer',
      configFile: '/etc/edgepeer/100%.yaml',
      writablePaths: ['/run/edgepeer'],
    });
    expect(directive(unit, 'StateDirectory')).toBeUndefined();
    expect(directive(unit, 'ReadWritePaths')).toBe('"/srv/edge peer" /run/edgepeer');
    expect(directive(unit, 'ExecStart')).toContain('--config /etc/edgepeer/100%%.yaml --data-dir "/srv/edge peer"');
  });

  it('keeps home folders readable when edgepeer lives in one', () => {
    const unit = renderServiceUnit({ ...base, entry: '/home/ops/edgepeer/bin/run.js' });
    expect(directive(unit, 'ProtectHome')).toBe('read-only');
  });
});

describe('installService', () => {
  it('with --dry-run, writes nothing and says what it would do', async () => {
    const unitDir = join(dir, 'dry-units');
    const result = await installService({
      unitDir,
      dataDir: join(dir, 'dry-data'),
      configFile: join(dir, 'missing.yaml'),
      user: 'edgepeer-nonexistent-user',
      dryRun: true,
      isRoot: true,
    });
    expect(existsSync(unitDir)).toBe(false);
    expect(existsSync(join(dir, 'dry-data'))).toBe(false);
    expect(result).toMatchObject({ dryRun: true, written: false, userStatus: 'would create', configExists: false });
    expect(result.nextSteps[0]).toMatch(/^useradd --system .* edgepeer-nonexistent-user$/);
    expect(result.nextSteps).toContain(`edgepeer config init ${join(dir, 'missing.yaml')}`);
    expect(result.nextSteps).toContain('systemctl daemon-reload && systemctl enable --now edgepeer');
    expect(result.unit).toContain('User=edgepeer-nonexistent-user');
  });

  it('writes the unit with this node and this edgepeer, reading ports from the config file', async () => {
    const configFile = join(dir, 'edge.yaml');
    await writeFile(configFile, 'peer:\n  port: 443\nshutdownGrace: 50s\n');
    const unitDir = join(dir, 'units');
    const dataDir = join(dir, 'data');
    const result = await installService({ unitDir, dataDir, configFile, user: 'nobody', isRoot: false });
    expect(result).toMatchObject({ written: true, userStatus: 'exists', unitFile: join(unitDir, 'edgepeer.service') });
    const unit = await readFile(result.unitFile, 'utf8');
    expect(unit).toBe(result.unit);
    expect((await stat(result.unitFile)).mode & 0o777).toBe(0o644);
    expect(directive(unit, 'ExecStart')).toBe(
      `${process.execPath} ${edgepeerEntry()} agent --config ${configFile} --data-dir ${dataDir}`,
    );
    expect(directive(unit, 'CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(directive(unit, 'TimeoutStopSec')).toBe('60s');
    // systemd must not kill the agent before its own deadline (the grace plus its margin) has passed.
    expect(60_000).toBeGreaterThan(50_000 + SHUTDOWN_MARGIN_MS + 2000);
    expect(directive(unit, 'ReadWritePaths')).toBe(dataDir);
    // nobody's primary group is its own on some systems, nogroup on Debian: the unit must use the real one.
    expect(directive(unit, 'Group')).not.toBe('');
    expect(result.notes.join('\n')).toMatch(/PrivateTmp/);
  });

  /** A dry-run install for user nobody from a config file holding `yaml`, with its own data dir. */
  async function dryInstall(name: string, yaml: string) {
    const configFile = join(dir, `${name}.yaml`);
    await writeFile(configFile, yaml);
    const dataDir = join(dir, `data-${name}`);
    const result = await installService({
      unitDir: join(dir, `units-${name}`),
      dataDir,
      configFile,
      user: 'nobody',
      dryRun: true,
    });
    return { result, dataDir };
  }

  it('lets the agent write its access log outside the data dir, and says when the folder is missing', async () => {
    const { result, dataDir } = await dryInstall('log', `http:\n  accessLog: ${join(dir, 'logs', 'access.log')}\n`);
    expect(directive(result.unit, 'ReadWritePaths')).toBe(`${dataDir} ${join(dir, 'logs')}`);
    expect(result.notes).toContain(`create ${join(dir, 'logs')} for the access log, writable by nobody`);
  });

  it('grants the low-port capability for HTTPS on 443, before its certificate files exist', async () => {
    const yaml = 'https:\n  port: 443\n  certFile: /etc/edgepeer/tls/cert.pem\n  keyFile: /etc/edgepeer/tls/key.pem\n';
    const { result } = await dryInstall('https', yaml);
    expect(directive(result.unit, 'CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
  });

  it('with role controller, writes edgepeer-controller.service running `edgepeer controller` with its ports', async () => {
    const configFile = join(dir, 'controller.yaml');
    await writeFile(
      configFile,
      'edge-listen: "[::]:700"\nshutdown-grace: 20000\nims-registrar: sip:127.0.0.1\nims-impi: cdn@x\nims-impu: sip:cdn@x\nims-password-file: /nonexistent/yet\n',
    );
    const dataDir = join(dir, 'controller-state');
    const result = await installService({
      role: 'controller',
      unitDir: join(dir, 'units-controller'),
      dataDir,
      configFile,
      user: 'nobody',
      dryRun: true,
    });
    expect(result.unitFile).toBe(join(dir, 'units-controller', 'edgepeer-controller.service'));
    expect(directive(result.unit, 'ExecStart')).toBe(
      `${process.execPath} ${edgepeerEntry()} controller --config ${configFile} --data-dir ${dataDir}`,
    );
    // The edge listener on 700: the one capability, and nothing else.
    expect(directive(result.unit, 'CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(directive(result.unit, 'TimeoutStopSec')).toBe('30s');
    expect(result.nextSteps).toContain('systemctl daemon-reload && systemctl enable --now edgepeer-controller');
  });

  it("keeps the config file's dataDir: no --data-dir in ExecStart to override it, and that folder writable", async () => {
    const configFile = join(dir, 'own-data.yaml');
    await writeFile(configFile, 'dataDir: /srv/edge-data\n');
    const result = await installService({ unitDir: join(dir, 'units-own'), configFile, user: 'nobody', dryRun: true });
    expect(result.dataDir).toBe('/srv/edge-data');
    expect(directive(result.unit, 'ExecStart')).toBe(
      `${process.execPath} ${edgepeerEntry()} agent --config ${configFile}`,
    );
    expect(directive(result.unit, 'ReadWritePaths')).toBe('/srv/edge-data');
    // Given on the command line, --data-dir is the service's (and written into ExecStart) as before.
    const given = await installService({
      unitDir: join(dir, 'units-own'),
      configFile,
      dataDir: join(dir, 'given'),
      user: 'nobody',
      dryRun: true,
    });
    expect(directive(given.unit, 'ExecStart')).toContain(`--data-dir ${join(dir, 'given')}`);
  });

  it('refuses a user name that is not one', async () => {
    await expect(installService({ user: 'root; rm -rf /', dryRun: true })).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
  });

  it('refuses an invalid config file rather than install a service that cannot start', async () => {
    const configFile = join(dir, 'broken.yaml');
    await writeFile(configFile, 'peer:\n  port: 99999\n');
    await expect(
      installService({ configFile, unitDir: join(dir, 'u2'), dataDir: join(dir, 'd2'), dryRun: true }),
    ).rejects.toMatchObject({ code: 'EDGEPEER_CONFIG_INVALID' });
  });
});

describe('chooseServiceNode', () => {
  const versions: Record<string, string | null> = {
    '/tmp/ci/node_modules/node/bin/node': '24.21.0',
    '/root/.nvm/versions/node/v24.21.0/bin/node': '24.21.0',
    '/usr/bin/node': '20.20.2',
    '/usr/local/bin/node': '24.11.1',
    '/opt/node/bin/node': '24.21.0',
    '/opt/old/bin/node': '22.18.0',
  };
  const probe = { versionOf: async (node: string) => versions[node] ?? null, realPath: (path: string) => path };

  it('keeps the Node running the command when it will do, and says so', async () => {
    const chosen = await chooseServiceNode({ ...probe, running: '/opt/node/bin/node', candidates: [] });
    expect(chosen).toMatchObject({ node: '/opt/node/bin/node', version: '24.21.0' });
    expect(chosen.note).toContain('the one running this command');
  });

  it('looks past a Node under a temporary or hidden folder, and past one too old', async () => {
    const chosen = await chooseServiceNode({
      ...probe,
      running: '/tmp/ci/node_modules/node/bin/node',
      candidates: ['/usr/bin/node', '/usr/local/bin/node'],
    });
    expect(chosen).toMatchObject({ node: '/usr/local/bin/node', version: '24.11.1' });
    expect(chosen.note).toMatch(/under a temporary folder/);
    const fromNvm = await chooseServiceNode({
      ...probe,
      running: '/root/.nvm/versions/node/v24.21.0/bin/node',
      candidates: ['/usr/local/bin/node'],
    });
    expect(fromNvm.note).toMatch(/hidden folder/);
  });

  it('refuses when no Node will do, naming why and --node', async () => {
    await expect(
      chooseServiceNode({ ...probe, running: '/tmp/ci/node_modules/node/bin/node', candidates: ['/usr/bin/node'] }),
    ).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringMatching(
        /temporary folder.*no Node\.js 22\.19 or newer at \/usr\/bin\/node; give one with --node/,
      ),
    });
  });

  it('takes --node only if it will do', async () => {
    expect((await chooseServiceNode({ ...probe, given: '/opt/node/bin/node' })).node).toBe('/opt/node/bin/node');
    await expect(chooseServiceNode({ ...probe, given: '/opt/old/bin/node' })).rejects.toThrow(
      /22\.18\.0; edgepeer needs 22\.19/,
    );
    await expect(chooseServiceNode({ ...probe, given: '/tmp/ci/node_modules/node/bin/node' })).rejects.toThrow(
      /--node: .*temporary folder/,
    );
    await expect(chooseServiceNode({ ...probe, given: '/nowhere/node' })).rejects.toThrow(/does not run as Node\.js/);
  });

  it('asks a real Node its version', async () => {
    expect(await nodeVersionOf(process.execPath)).toBe(process.versions.node);
    expect(await nodeVersionOf('/nonexistent/node')).toBeNull();
  });
});
