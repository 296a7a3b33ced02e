// The `bittorrent-protocol` package ships no type declarations; this is the part of its Wire that
// src/wire uses or overrides (see node_modules/bittorrent-protocol/index.js).
declare module 'bittorrent-protocol' {
  import type { EventEmitter } from 'node:events';

  export interface WireExtension {
    onHandshake?(infoHash: string, peerId: string, extensions: Record<string, boolean>): void;
    onExtendedHandshake?(handshake: Record<string, unknown>): void;
    onMessage?(buf: Uint8Array): void;
  }

  export interface WireExtensionClass {
    new (wire: Wire): WireExtension;
    prototype: { name: string };
  }

  export interface PeerPieces {
    get(index: number): boolean;
  }

  /** mse.js: the MSE/PE state machine of one wire. */
  export interface MessageStreamEncryptor {
    state: string;
    _dh: { generateKeys(): Buffer; computeSecret(other: Uint8Array): Buffer } | null;
    _isEncrypted: boolean;
    _peerCryptoProvide: number;
    _advanceEncryption(): void;
    encrypt(data: Uint8Array): Uint8Array;
  }

  /** A streamx Duplex in the package; edgepeer feeds `_write` and overrides `_push` instead of piping. */
  export default class Wire extends EventEmitter {
    constructor(type?: string, peEnabled?: number);
    peerId: string | null;
    peerIdBuffer: Uint8Array | null;
    amChoking: boolean;
    amInterested: boolean;
    peerChoking: boolean;
    peerInterested: boolean;
    peerPieces: PeerPieces;
    hasFast: boolean;
    extensions: Record<string, boolean>;
    peerExtensions: Record<string, boolean>;
    extendedHandshake: Record<string, unknown>;
    peerExtendedHandshake: Record<string, unknown>;
    peerExtendedMapping: Record<string, number>;
    extendedMapping: Record<number, string>;
    allowedFastSet: number[];

    use(extension: WireExtensionClass): void;
    handshake(
      infoHash: string | Uint8Array,
      peerId: string | Uint8Array,
      extensions?: { dht?: boolean; fast?: boolean },
    ): void;
    keepAlive(): void;
    choke(): void;
    unchoke(): void;
    have(index: number): void;
    bitfield(bitfield: Uint8Array): void;
    haveAll(): void;
    haveNone(): void;
    reject(index: number, offset: number, length: number): void;
    /** Client side, used by tests: asks for a block; cb gets the block or the reason it was refused. */
    request(index: number, offset: number, length: number, cb: (err: Error | null, block?: Uint8Array) => void): void;
    interested(): void;
    uninterested(): void;
    allowedFast(index: number): void;
    extended(ext: number | string, obj: Uint8Array | Record<string, unknown>): void;
    end(): this;
    destroy(): this;

    /** MSE/PE (peEnabled > 0): resumes an incoming encrypted handshake once the info hash is known. */
    setInfoHash(infoHash: string): void;

    // Internals that src/wire overrides or calls (stable across 5.x).
    _encryptor: MessageStreamEncryptor | null;
    _write(data: Uint8Array, cb: (err?: Error | null) => void): void;
    _push(data: Uint8Array): boolean | undefined;
    _parse(size: number, parser: (buffer: Uint8Array) => void): void;
    _onMessageLength(buffer: Uint8Array): void;
    _onMessage(buffer: Uint8Array): void;
    _message(id: number, numbers: number[], data: Uint8Array | null): void;
  }
}
