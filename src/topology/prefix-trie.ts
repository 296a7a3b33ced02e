// Longest-prefix match over address bits: a binary trie in typed arrays (two child indexes and a value
// index per node), walked bit by bit, at most 32 steps for IPv4 and 128 for IPv6, without allocating.
// No maintained npm package does longest-prefix match with a value per prefix for both families:
// cidr-matcher answers membership, IPv4 only; cidr-tools and ip-cidr do set arithmetic; cidr-trie was last
// published in 2019. node:net's BlockList answers membership only.

const NONE = -1;

export class PrefixTrie<V> {
  #left = new Int32Array(256).fill(NONE);
  #right = new Int32Array(256).fill(NONE);
  #valueIndex = new Int32Array(256).fill(NONE);
  #values: V[] = [];
  #nodes = 1;
  readonly bits: number;

  constructor(bits: 32 | 128) {
    this.bits = bits;
  }

  /** Stores value for the first `length` bits of bytes; returns the value it replaced, if any. */
  insert(bytes: Uint8Array, length: number, value: V): V | undefined {
    let node = 0;
    for (let bit = 0; bit < length; bit++) {
      const one = (bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
      const children = one ? this.#right : this.#left;
      let next = children[node]!;
      if (next === NONE) {
        next = this.#newNode();
        (one ? this.#right : this.#left)[node] = next;
      }
      node = next;
    }
    const previous = this.#valueIndex[node]!;
    if (previous !== NONE) {
      const replaced = this.#values[previous];
      this.#values[previous] = value;
      return replaced;
    }
    this.#valueIndex[node] = this.#values.length;
    this.#values.push(value);
    return undefined;
  }

  /** The value of the longest stored prefix of bytes (from offset), or undefined. */
  lookup(bytes: Uint8Array, offset = 0): V | undefined {
    const left = this.#left;
    const right = this.#right;
    const valueIndex = this.#valueIndex;
    const bits = this.bits;
    let node = 0;
    let best = valueIndex[0]!;
    for (let bit = 0; bit < bits; bit++) {
      node = (bytes[offset + (bit >> 3)]! >> (7 - (bit & 7))) & 1 ? right[node]! : left[node]!;
      if (node === NONE) break;
      if (valueIndex[node]! !== NONE) best = valueIndex[node]!;
    }
    return best === NONE ? undefined : this.#values[best];
  }

  /** The same for an address given as a latin1 string, one character per byte (the tracker's compact form). */
  lookupLatin1(text: string, offset = 0): V | undefined {
    const left = this.#left;
    const right = this.#right;
    const valueIndex = this.#valueIndex;
    const bits = this.bits;
    let node = 0;
    let best = valueIndex[0]!;
    for (let bit = 0; bit < bits; bit++) {
      node = (text.charCodeAt(offset + (bit >> 3)) >> (7 - (bit & 7))) & 1 ? right[node]! : left[node]!;
      if (node === NONE) break;
      if (valueIndex[node]! !== NONE) best = valueIndex[node]!;
    }
    return best === NONE ? undefined : this.#values[best];
  }

  #newNode(): number {
    if (this.#nodes === this.#left.length) {
      this.#left = grow(this.#left);
      this.#right = grow(this.#right);
      this.#valueIndex = grow(this.#valueIndex);
    }
    return this.#nodes++;
  }
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2).fill(NONE);
  bigger.set(array);
  return bigger;
}
