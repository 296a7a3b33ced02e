// Drives WebTorrent (the npm library, a devDependency) for the interop tests, as test/wire/lt_client.py drives
// libtorrent: one download, then exit. Runs in its own Node process (WebTorrent is ESM with globals of its own).
//
//   node webtorrent_client.mjs '{"source": "<.torrent path or magnet>", "save": "<dir>", "utp": false}'
//
// Prints one JSON line per event on stdout: {"event":"wire","type":"tcpOutgoing","address":"...","ms":12}
// when a peer connection completes its handshake, {"event":"done","ms":...,"downloaded":...,"wires":[...]}
// at the end, or {"event":"error","message":"..."}; exits 0 when done, 1 otherwise.
//
// Nothing leaves the machine: no DHT, no local service discovery, no UPnP or NAT-PMP, no peer exchange; no
// WebRTC (webrtc-polyfill is replaced by a stub in this repository, see package.json "overrides"), so no
// WebSocket trackers either. uTP only when asked ("utp": true; WebTorrent's default where utp-native loads).
import { readFile } from 'node:fs/promises';
import WebTorrent from 'webtorrent';

const options = JSON.parse(process.argv[2] ?? '{}');
const started = performance.now();
const elapsed = () => Math.round(performance.now() - started);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const client = new WebTorrent({
  dht: false,
  lsd: false,
  natUpnp: false,
  natPmp: false,
  utPex: false,
  utp: options.utp === true,
  tracker: { wrtc: false },
});
client.on('error', (err) => fail(err));

function fail(err) {
  print({ event: 'error', message: String(err?.message ?? err), ms: elapsed() });
  client.destroy(() => process.exit(1));
}

const timeout = setTimeout(
  () => fail(new Error(`not done within ${options.timeoutMs ?? 60_000} ms`)),
  options.timeoutMs ?? 60_000,
);

const source = options.source.startsWith('magnet:') ? options.source : await readFile(options.source);
const wires = [];
const torrent = client.add(source, { path: options.save });
torrent.on('error', (err) => fail(err));
torrent.on('wire', (wire, address) => {
  const line = { type: wire.type, address, ms: elapsed() };
  wires.push(line);
  print({ event: 'wire', ...line });
});
torrent.on('done', () => {
  clearTimeout(timeout);
  print({
    event: 'done',
    ms: elapsed(),
    downloaded: torrent.downloaded,
    // Bytes from the web seeds, which WebTorrent counts as wires of type 'webSeed'.
    webSeedBytes: torrent.wires.filter((w) => w.type === 'webSeed').reduce((n, w) => n + w.downloaded, 0),
    wires,
    utp: client.utp,
  });
  client.destroy((err) => process.exit(err ? 1 : 0));
});
