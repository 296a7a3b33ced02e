// Bytes each object moved since the agent started: sent to peers and HTTP clients, and pulled from its
// origin. Announces report them as BEP 3's `uploaded` and `downloaded`, so trackers and their operators
// see what each network peer served.

export interface ObjectTransfer {
  uploaded: number;
  downloaded: number;
}

export class TransferTally {
  readonly #byObject = new Map<string, ObjectTransfer>();

  uploaded(infoHash: string, bytes: number): void {
    this.#entry(infoHash).uploaded += bytes;
  }

  downloaded(infoHash: string, bytes: number): void {
    this.#entry(infoHash).downloaded += bytes;
  }

  of(infoHash: string): ObjectTransfer | undefined {
    return this.#byObject.get(infoHash);
  }

  /** Bytes of every object still in the store, summed (the dashboard's rate chart samples it). */
  totals(): ObjectTransfer {
    const sum = { uploaded: 0, downloaded: 0 };
    for (const entry of this.#byObject.values()) {
      sum.uploaded += entry.uploaded;
      sum.downloaded += entry.downloaded;
    }
    return sum;
  }

  /** The object left the store: should it come back, its announces start again, from 'started' and zero. */
  forget(infoHash: string): void {
    this.#byObject.delete(infoHash);
  }

  #entry(infoHash: string): ObjectTransfer {
    let entry = this.#byObject.get(infoHash);
    if (entry === undefined) {
      entry = { uploaded: 0, downloaded: 0 };
      this.#byObject.set(infoHash, entry);
    }
    return entry;
  }
}
