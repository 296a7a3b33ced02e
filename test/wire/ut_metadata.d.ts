// The `ut_metadata` package ships no type declarations; the tests use it as a magnet-link client.
declare module 'ut_metadata' {
  import type { WireExtensionClass } from 'bittorrent-protocol';
  export default function utMetadata(metadata?: Uint8Array): WireExtensionClass;
}
