// Per-object exclusion in the disk store: piece writes of an object run side by side, while its creation
// and removals (and a close) wait for them and keep new ones out until they are done.

/** One object's state: writes in progress, and a barrier that removals (and creation) hold exclusively. */
export interface ObjectGate {
  writers: number;
  barrier: Promise<void> | null;
  onIdle: (() => void)[];
}

export class ObjectGates {
  readonly #gates = new Map<string, ObjectGate>();

  /**
   * The object's gate once no barrier stands on it, handed to `claim` in the same turn as the last check,
   * so that nothing (another writer, a removal) can come between seeing it open and claiming it.
   */
  async #claim<T>(infoHash: string, claim: (gate: ObjectGate) => T): Promise<T> {
    let gate = this.#gates.get(infoHash);
    while (gate?.barrier) {
      await gate.barrier;
      gate = this.#gates.get(infoHash);
    }
    if (gate === undefined) {
      gate = { writers: 0, barrier: null, onIdle: [] };
      this.#gates.set(infoHash, gate);
    }
    return claim(gate);
  }

  /** Enters as one of the object's writers (after any barrier); leave with leaveWriter. */
  enterWriter(infoHash: string): Promise<ObjectGate> {
    return this.#claim(infoHash, (gate) => {
      gate.writers++;
      return gate;
    });
  }

  leaveWriter(infoHash: string, gate: ObjectGate): void {
    gate.writers--;
    if (gate.writers > 0) return;
    for (const wake of gate.onIdle.splice(0)) wake();
    if (gate.barrier === null && this.#gates.get(infoHash) === gate) this.#gates.delete(infoHash);
  }

  /** Runs `task` with no write of the object in progress and none starting (removals, creation). */
  async exclusive<T>(infoHash: string, task: () => Promise<T>): Promise<T> {
    let open!: () => void;
    const held = await this.#claim(infoHash, (gate) => {
      gate.barrier = new Promise((resolve) => {
        open = resolve;
      });
      return gate;
    });
    try {
      if (held.writers > 0) await new Promise<void>((resolve) => held.onIdle.push(resolve));
      return await task();
    } finally {
      held.barrier = null;
      if (held.writers === 0 && this.#gates.get(infoHash) === held) this.#gates.delete(infoHash);
      open();
    }
  }

  /** Waits until no write, creation or removal is in progress (new ones are refused while closing). */
  async quiesce(): Promise<void> {
    for (;;) {
      const busy = [...this.#gates.values()].find((gate) => gate.writers > 0 || gate.barrier !== null);
      if (busy === undefined) return;
      if (busy.barrier !== null) await busy.barrier;
      else await new Promise<void>((resolve) => busy.onIdle.push(resolve));
    }
  }
}
