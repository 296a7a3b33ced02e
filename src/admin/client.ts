import { createInterface } from 'node:readline';
import { Agent as Dispatcher, request } from 'undici';
import { AgentNotRunningError, AgentUnreachableError, EdgepeerError } from '../errors/index.ts';
import type { IngestResult } from '../ingest/index.ts';
import { formatPieceList } from '../metainfo/index.ts';
import type { ObjectDetails, ObjectSummary } from './describe.ts';
import { findAgent, readToken } from './discovery.ts';
import type { BulkIngestRequest } from './ingest-many.ts';
import type { Operations, ProgressListener, TorrentFile } from './operations.ts';
import type { PurgeRequest, PurgeResult } from './purge.ts';

type ErrorJson = { code: string; message: string; subject?: string };

/** An error the agent reported, rebuilt with its code; the exit code comes from the catalogue. */
function remoteError(error: ErrorJson): EdgepeerError {
  return EdgepeerError.reported(error);
}

/** Operations through a running agent's admin API. */
export class RemoteOperations implements Operations {
  readonly via = 'agent';
  private readonly dispatcher = new Dispatcher({ headersTimeout: 30_000, bodyTimeout: 0 });
  private readonly baseUrl: string;
  private readonly token: string;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  async status(): Promise<unknown> {
    return this.json('GET', '/v1/status');
  }

  list(): Promise<ObjectSummary[]> {
    return this.json('GET', '/v1/objects') as Promise<ObjectSummary[]>;
  }

  show(id: string): Promise<ObjectDetails> {
    return this.json('GET', `/v1/objects/${encodeURIComponent(id)}`) as Promise<ObjectDetails>;
  }

  async torrent(id: string): Promise<TorrentFile> {
    const response = await this.send('GET', `/v1/objects/${encodeURIComponent(id)}/torrent`);
    const data = Buffer.from(await response.body.arrayBuffer());
    return {
      infoHash: String(response.headers['x-edgepeer-info-hash']),
      name: decodeURIComponent(String(response.headers['x-edgepeer-name'])),
      data,
    };
  }

  purge(request: PurgeRequest): Promise<PurgeResult[]> {
    const { pieces, ...rest } = request;
    const body = pieces === undefined ? rest : { ...rest, pieces: formatPieceList(pieces) };
    return this.json('POST', '/v1/purge', body) as Promise<PurgeResult[]>;
  }

  async ingest(
    request: BulkIngestRequest,
    onResult: (result: IngestResult) => void,
    onProgress?: ProgressListener,
  ): Promise<void> {
    const { onProgress: _, pieces, ...rest } = request.options;
    // The API carries piece lists as text ("0-99,200"): a long run stays short.
    const options = pieces === undefined ? rest : { ...rest, pieces: formatPieceList(pieces) };
    const response = await this.send('POST', '/v1/ingest', { ...request, options });
    const lines = createInterface({ input: response.body, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const message = JSON.parse(line) as
        | { type: 'result'; result: IngestResult }
        | { type: 'progress'; source: string; bytesDone: number; bytesTotal: number | null }
        | { type: 'error'; error: ErrorJson };
      if (message.type === 'result') onResult(message.result);
      else if (message.type === 'progress') onProgress?.(message);
      else throw remoteError(message.error);
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** Any admin API call answered with JSON (the controller's /v1/edges and /v1/tokens too). */
  async json(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const response = await this.send(method, path, body);
    return response.body.json();
  }

  private async send(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) {
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(`${this.baseUrl}${path}`, {
        method,
        dispatcher: this.dispatcher,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new AgentUnreachableError(
        `the agent's admin API at ${this.baseUrl} did not answer: ${(err as Error).message}`,
        {
          subject: this.baseUrl,
          cause: err,
        },
      );
    }
    if (response.statusCode >= 400) {
      const payload = (await response.body.json().catch(() => ({}))) as { error?: Partial<ErrorJson> } | null;
      const error = payload?.error;
      throw typeof error?.code === 'string' && typeof error.message === 'string'
        ? remoteError(error as ErrorJson)
        : new EdgepeerError('EDGEPEER_AGENT_BAD_RESPONSE', `the agent's admin API answered ${response.statusCode}`, {
            subject: this.baseUrl,
          });
    }
    return response;
  }
}

/** One JSON call to the agent running on `dataDir` (`edgepeer qos` and the like); exit 7 if none runs. */
export async function agentJson(
  dataDir: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const agent = await findAgent(dataDir);
  if (!agent) {
    throw new AgentNotRunningError(`no agent runs on ${dataDir} (no live agent.json there)`, { subject: dataDir });
  }
  const remote = new RemoteOperations(agent.adminUrl, await readToken(agent.tokenFile));
  try {
    return await remote.json(method, path, body);
  } finally {
    await remote.close();
  }
}
