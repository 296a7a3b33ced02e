// The `bencode` package ships no type declarations; this is the part of its API edgepeer uses.
declare module 'bencode' {
  export type BencodeValue = number | Uint8Array | BencodeValue[] | { [key: string]: BencodeValue };
  const bencode: {
    /** Strings are written as UTF-8; dictionary keys are sorted; null/undefined values are skipped. */
    encode(value: unknown): Uint8Array;
    /** Byte strings come back as Uint8Array copies; dictionary keys as strings. Trusts its input: validate first. */
    decode(data: Uint8Array): BencodeValue;
    byteLength(value: unknown): number;
  };
  export default bencode;
}
