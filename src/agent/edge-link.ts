// The agent as an edge of a controller: the link's wiring to this agent's store, servers and operations.
// Commands from the controller are admin API requests (checked as the admin API checks them) run on the
// agent's own operations; an ingest may carry the object's .torrent, which is added first.
import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestRequest, purgeRequest, type StoreOperations } from '../admin/index.ts';
import type { AgentAddresses, AgentConfig } from '../config/index.ts';
import { ConfigError, fromSystemError, InvalidArgumentError } from '../errors/index.ts';
import { type CommandEvent, type EdgeCommand, EdgeLink } from '../fleet/index.ts';
import type { Logger } from '../log/index.ts';
import { parseTorrent } from '../metainfo/index.ts';
import type { Store } from '../store/index.ts';

export async function startEdgeLink(options: {
  controller: NonNullable<AgentConfig['controller']>;
  dataDir: string;
  store: Store;
  operations: StoreOperations;
  where: () => AgentAddresses;
  load: () => { connections: number; uploadedBytes: number; shedding: boolean };
  logger: Logger;
}): Promise<EdgeLink> {
  const { store, operations, dataDir } = options;
  const first = options.where();
  if (first.httpBaseUrls.length === 0) {
    throw new ConfigError(
      'an edge of a controller serves HTTP: the controller fetches pieces and redirects clients to it',
      {
        subject: 'http.enabled',
      },
    );
  }
  const link = new EdgeLink({
    controllerUrls: options.controller.urls,
    credentialFile: join(dataDir, 'controller-credential.json'),
    enrolToken: await readEnrolToken(options.controller.enrolToken),
    catalog: store,
    address: () => {
      const where = options.where();
      return { httpBaseUrl: where.httpBaseUrls[0] as string, peerPort: where.peerPort };
    },
    load: options.load,
    space: async () => {
      const stats = await statfs(dataDir);
      return { capacityBytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize };
    },
    runCommand: (command, report) => runCommand(command, report, store, operations),
    logger: options.logger,
  });
  await link.start();
  return link;
}

/** The token as given, or read from the file it names. */
async function readEnrolToken(value: string | null): Promise<string | null> {
  if (value === null || value.startsWith('ept_')) return value;
  try {
    return (await readFile(value, 'utf8')).trim();
  } catch (err) {
    throw fromSystemError(err, value);
  }
}

async function runCommand(
  command: EdgeCommand,
  report: (event: CommandEvent) => void,
  store: Store,
  operations: StoreOperations,
): Promise<void> {
  if (command.kind === 'purge') {
    for (const result of await operations.purge(purgeRequest(command.body))) {
      report({ kind: 'result', result: { ...result } });
    }
    return;
  }
  const { torrent, ...body } = (command.body ?? {}) as { torrent?: unknown };
  const request = ingestRequest(body);
  if (torrent !== undefined) {
    if (typeof torrent !== 'string') throw new InvalidArgumentError('ingest command: torrent must be base64 text');
    const object = await store.addObject(parseTorrent(Buffer.from(torrent, 'base64'), "the controller's .torrent"));
    request.infoHash = object.infoHash;
  }
  await operations.ingest(
    request,
    (result) => report({ kind: 'result', result: { ...result } }),
    (progress) => report({ kind: 'progress', ...progress }),
  );
}
