// bittorrent-protocol's Wire, adapted for a server that only uploads. The package parses the handshake
// and messages, negotiates BEP 6 and BEP 10 and writes the control messages; this subclass
//  - sends through the connection (`_push`) straight to the socket instead of through a streamx queue,
//    so the socket's own buffer is the only one and back-pressure is visible;
//  - checks every message's length before the package reads it (the package trusts lengths and would
//    buffer a 4 GiB "message"), and closes on what it would silently misread;
//  - hands request, cancel and extended messages to the connection without the package's per-request
//    closure, array scan, event and speed meter (see docs/wire.md, "Hot path");
//  - answers encrypted handshakes (MSE/PE, the package's mse.js) with one shared Diffie-Hellman group and
//    goes on in plaintext (crypto_select 0x01) when the peer offers it, in RC4 only if it offers nothing else.
import { createDiffieHellman, type DiffieHellman, randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';

/**
 * MSE (message stream encryption) for incoming connections: 'off' accepts plaintext handshakes only;
 * 'plaintext' also accepts an encrypted handshake and selects plaintext for what follows (peers offering
 * only RC4 are closed); 'rc4' selects plaintext too when the peer offers it, and agrees to RC4 for the
 * whole stream when that is all it offers (Transmission's default; JavaScript RC4, ~250 MB/s a core).
 */
export type MseMode = 'off' | 'plaintext' | 'rc4';

export interface ServingWireSink {
  send(data: Uint8Array): void;
  request(pieceIndex: number, begin: number, length: number): void;
  cancel(pieceIndex: number, begin: number, length: number): void;
  /** An extended message (BEP 10) other than the extended handshake, by our extension id. */
  extended(extensionId: number, payload: Uint8Array): void;
  /** The peer broke the protocol; the connection must close. Called at most once. */
  malformed(reason: string): void;
  /** The first bytes are not a plaintext BitTorrent handshake (most often an encrypted one, MSE). */
  notBitTorrent(): void;
  /** An encrypted handshake offered only RC4 and RC4 is not allowed. */
  rc4Refused(): void;
}

/** Whole-message lengths (id byte included) of the fixed-size messages; -1 where the length varies. */
const FIXED_LENGTH = new Int32Array(256).fill(-1);
for (const id of [0, 1, 2, 3, 14, 15]) FIXED_LENGTH[id] = 1;
for (const id of [4, 13, 17]) FIXED_LENGTH[id] = 5;
for (const id of [6, 8, 16]) FIXED_LENGTH[id] = 13;
FIXED_LENGTH[9] = 3;

const MSG_BITFIELD = 5;
const MSG_REQUEST = 6;
const MSG_PIECE = 7;
const MSG_CANCEL = 8;
const MSG_EXTENDED = 20;
const FIRST_FAST_MSG = 13;
const LAST_FAST_MSG = 17;

const noop = (): void => {};

/** Unsigned big-endian 32-bit read (the package's getUint32 goes negative above 2^31). */
export function readUint32(buffer: Uint8Array, at: number): number {
  return buffer[at]! * 0x1000000 + ((buffer[at + 1]! << 16) | (buffer[at + 2]! << 8) | buffer[at + 3]!);
}

/** The 768-bit prime of MSE, generator 2. */
const MSE_PRIME =
  'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563';
const CRYPTO_PLAINTEXT = 0x01;
let sharedDh: DiffieHellman | null = null;

/**
 * A key pair per connection over one DiffieHellman object: creating one checks the prime (~15 ms, a
 * cheap way for anyone to burn our CPU), while a fresh 160-bit private key costs ~0.1 ms.
 */
function connectionDh(): { generateKeys(): Buffer; computeSecret(other: Uint8Array): Buffer } {
  sharedDh ??= createDiffieHellman(MSE_PRIME, 'hex', 2);
  const dh = sharedDh;
  const privateKey = randomBytes(20);
  return {
    generateKeys() {
      dh.setPrivateKey(privateKey);
      return dh.generateKeys();
    },
    computeSecret(other) {
      dh.setPrivateKey(privateKey);
      return dh.computeSecret(other);
    },
  };
}

export class ServingWire extends Wire {
  #sink: ServingWireSink;
  #halted = false;
  /** Largest message accepted from the peer (length prefix), until the handshake tells the object. */
  maxMessageLength = 256 * 1024;
  /** Exact length of a bitfield message (id byte included) once the object is known; -1 before. */
  bitfieldMessageLength = -1;

  constructor(sink: ServingWireSink, mse: MseMode = 'rc4') {
    super('tcpIncoming', mse === 'off' ? 0 : 1);
    this.#sink = sink;
    const encryptor = this._encryptor;
    if (encryptor === null) return;
    encryptor._dh = connectionDh();
    if (mse === 'rc4') return;
    const advance = encryptor._advanceEncryption.bind(encryptor);
    encryptor._advanceEncryption = () => {
      if (encryptor.state === 'gotPe3' && (encryptor._peerCryptoProvide & CRYPTO_PLAINTEXT) === 0) {
        this.halt();
        this.#sink.rc4Refused();
        return;
      }
      advance();
    };
  }

  /** True when the stream is RC4-encrypted (MSE with RC4 selected): blocks must go through encrypt(). */
  get encrypted(): boolean {
    return this._encryptor?._isEncrypted === true;
  }

  encrypt(data: Uint8Array): Uint8Array {
    return this._encryptor === null ? data : this._encryptor.encrypt(data);
  }

  /** Stops parsing and sending: the connection is closing. */
  halt(): void {
    this.#halted = true;
    this._parse(Number.MAX_SAFE_INTEGER, noop);
  }

  override _push(data: Uint8Array): boolean {
    if (!this.#halted) this.#sink.send(this._encryptor === null ? data : this._encryptor.encrypt(data));
    return true;
  }

  override _onMessageLength(buffer: Uint8Array): void {
    if (this.#halted) return;
    const length = readUint32(buffer, 0);
    if (length > this.maxMessageLength) {
      this.#fail(`message of ${length} bytes is longer than the limit of ${this.maxMessageLength}`);
      return;
    }
    super._onMessageLength(buffer);
  }

  override _onMessage(buffer: Uint8Array): void {
    if (this.#halted) return;
    const id = buffer[0]!;
    const fixed = FIXED_LENGTH[id]!;
    if (fixed !== -1 && buffer.length !== fixed) {
      this.#fail(`message id ${id} is ${buffer.length} bytes long, expected ${fixed}`);
      return;
    }
    switch (id) {
      case MSG_REQUEST:
        this._parse(4, this._onMessageLength);
        this.#sink.request(readUint32(buffer, 1), readUint32(buffer, 5), readUint32(buffer, 9));
        return;
      case MSG_CANCEL:
        this._parse(4, this._onMessageLength);
        this.#sink.cancel(readUint32(buffer, 1), readUint32(buffer, 5), readUint32(buffer, 9));
        return;
      case MSG_PIECE:
        // Never requested: a server that only uploads ignores blocks sent to it.
        if (buffer.length < 9) {
          this.#fail(`piece message is ${buffer.length} bytes long, at least 9 expected`);
          return;
        }
        this._parse(4, this._onMessageLength);
        return;
      case MSG_BITFIELD:
        if (this.bitfieldMessageLength !== -1 && buffer.length !== this.bitfieldMessageLength) {
          this.#fail(`bitfield message is ${buffer.length} bytes long, expected ${this.bitfieldMessageLength}`);
          return;
        }
        break;
      case MSG_EXTENDED:
        if (buffer.length < 2) {
          this.#fail('extended message has no extension id');
          return;
        }
        if (buffer[1] !== 0) {
          this._parse(4, this._onMessageLength);
          this.#sink.extended(buffer[1]!, buffer.subarray(2));
          return;
        }
        break;
      default:
        if (id >= FIRST_FAST_MSG && id <= LAST_FAST_MSG && !this.hasFast) {
          this.#fail(`fast extension message id ${id} without the fast extension negotiated`);
          return;
        }
    }
    super._onMessage(buffer);
  }

  // The package calls end() when the peer does not speak BitTorrent and destroy() on protocol violations.
  override end(): this {
    if (this.#halted) return this;
    this.halt();
    this.#sink.notBitTorrent();
    return this;
  }

  override destroy(): this {
    this.#fail('protocol violation');
    return this;
  }

  #fail(reason: string): void {
    if (this.#halted) return;
    this.halt();
    this.#sink.malformed(reason);
  }
}
