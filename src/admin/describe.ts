import { magnetLink } from '../metainfo/index.ts';
import type { BitfieldView, CatalogObject, StoredObject } from '../store/index.ts';

/** One line of `edgepeer ls --json`. Field names are a stable interface for scripts. */
export interface ObjectSummary {
  infoHash: string;
  name: string;
  length: number;
  pieces: number;
  piecesHeld: number;
  complete: boolean;
  addedAt: string;
  expiresAt: string | null;
  source: string | null;
}

/** `edgepeer show --json`: the summary plus files, the bitmap and links. */
export interface ObjectDetails extends ObjectSummary {
  pieceLength: number;
  multiFile: boolean;
  private: boolean;
  fileList: Array<{ path: string; length: number }>;
  /** Held pieces as a piece list, e.g. "0-99,120". */
  held: string;
  /** The bitfield in BitTorrent wire order, hex. */
  bitmap: string;
  magnet: string;
  trackers: string[][];
  /** BEP 19 web seeds: the metainfo's, then this agent's (when it runs). */
  webSeeds: string[];
  /** This agent's per-piece URLs: `{index}` stands for the piece index. Empty when no agent runs. */
  pieceUrlTemplates: string[];
  /**
   * What the running agent moved for this object since it started (or since the object came): bytes sent
   * to peers and HTTP clients, bytes pulled from the origin. Null when no agent runs.
   */
  transfer: ObjectTransferReport | null;
}

export interface ObjectTransferReport {
  uploaded: number;
  downloaded: number;
  /** When the agent started counting (ISO 8601). */
  since: string;
}

/** What only a running agent adds to an object's description. */
export interface AgentLinks {
  webSeeds?: string[];
  pieceUrlTemplates?: string[];
  trackers?: string[];
  transfer?: ObjectTransferReport;
}

/** Reads no metainfo (the store loads it lazily): listing 100k objects stays cheap. */
export function summarize(object: CatalogObject): ObjectSummary {
  return {
    infoHash: object.infoHash,
    name: object.name,
    length: object.length,
    pieces: object.bitfield.length,
    piecesHeld: object.piecesHeld,
    complete: object.complete,
    addedAt: new Date(object.addedAt).toISOString(),
    expiresAt: object.expiresAt === null ? null : new Date(object.expiresAt).toISOString(),
    source: object.source,
  };
}

export function details(object: StoredObject, links: AgentLinks = {}): ObjectDetails {
  const { metainfo } = object;
  const webSeeds = [...metainfo.urlList, ...(links.webSeeds ?? [])];
  const trackers = [...metainfo.announceList, ...(links.trackers ?? []).map((t) => [t])];
  return {
    ...summarize(object),
    pieceLength: metainfo.pieceLength,
    multiFile: metainfo.multiFile,
    private: metainfo.private,
    fileList: metainfo.files.map((f) => ({ path: [metainfo.name, ...f.path].join('/'), length: f.length })),
    held: heldRanges(object.bitfield),
    bitmap: object.bitfield.toBuffer().toString('hex'),
    magnet: magnetLink(metainfo, { trackers: trackers.flat(), webSeeds }),
    trackers,
    webSeeds,
    pieceUrlTemplates: links.pieceUrlTemplates ?? [],
    transfer: links.transfer ?? null,
  };
}

/** The held pieces as a compact piece list ("0-99,120"), "" when none. */
export function heldRanges(bitfield: BitfieldView): string {
  const parts: string[] = [];
  let start = -1;
  for (let i = 0; i <= bitfield.length; i++) {
    const held = i < bitfield.length && bitfield.get(i);
    if (held && start < 0) start = i;
    if (!held && start >= 0) {
      parts.push(start === i - 1 ? `${start}` : `${start}-${i - 1}`);
      start = -1;
    }
  }
  return parts.join(',');
}
