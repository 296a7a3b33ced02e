import { RemoteOperations } from './client.ts';
import { findAgent, readToken } from './discovery.ts';
import type { Operations } from './operations.ts';
import { StoreOperations } from './operations.ts';
import { LocalSession, type SessionOptions } from './session.ts';

/**
 * Operations on the store in `dataDir`: through the agent if one runs on it (so its peers, bitmaps and
 * announces see changes at once), else on the store directly (taking the writer lock in 'write' mode); or,
 * with `controller`, on the CDN through its controller's admin API.
 */
export async function openOperations(options: SessionOptions): Promise<Operations> {
  if (options.controller !== undefined) {
    return new RemoteOperations(
      options.controller.url.replace(/\/+$/, ''),
      await readToken(options.controller.tokenFile),
    );
  }
  const agent = await findAgent(options.dataDir);
  if (agent) return new RemoteOperations(agent.adminUrl, await readToken(agent.tokenFile));
  const session = await LocalSession.open(options);
  return new StoreOperations({
    store: session.store,
    ingestContext: (signal) => session.ingestContext(signal),
    close: () => session.close(),
  });
}

/** Runs fn with operations and always closes them. */
export async function withOperations<T>(options: SessionOptions, fn: (ops: Operations) => Promise<T>): Promise<T> {
  const ops = await openOperations(options);
  try {
    return await fn(ops);
  } finally {
    await ops.close();
  }
}
