"""python3-libtorrent peers for the peer-auth interop test (test/interop/peer-auth.test.ts): TCP only,
plaintext, DHT, LSD, UPnP, NAT-PMP, uTP and PEX off, each bound to its own loopback address so that the agent
tells them apart. Prints JSON lines on stdout.

usage: peer_auth_lt.py TORRENT SAVE_DIR --bind ADDRESS [--peer HOST:PORT] [--timeout S]
  With the torrent's tracker (its announce URL carries the subscriber's passkey) and no --peer: downloads,
  prints {"result": ...} once seeding (or at the timeout).
  With --peer: dials that peer itself (as well as announcing to the torrent's tracker, if it names one),
  prints {"connected": ...} once the peer connection is up, and {"result": ...} when stdin closes or it
  seeds: payload bytes received, pieces held.
"""
import argparse
import json
import os
import sys
import threading
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from lt_alerts import AlertWaiter  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("torrent")
p.add_argument("save")
p.add_argument("--bind", required=True)
p.add_argument("--peer")
p.add_argument("--timeout", type=float, default=60)
args = p.parse_args()

ses = lt.session({
    "listen_interfaces": f"{args.bind}:0",
    "outgoing_interfaces": args.bind,
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_incoming_utp": False,
    "enable_outgoing_utp": False,
    "out_enc_policy": int(lt.enc_policy.disabled),
    "in_enc_policy": int(lt.enc_policy.enabled),
    # libtorrent refuses announces to a tracker on a loopback address unless the path is exactly /announce
    # (SSRF mitigation): the tracker here is on loopback and the passkey is in the path, as private trackers
    # have it. A tracker on a routable address is not affected.
    "ssrf_mitigation": False,
    "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                      | lt.alert.category_t.tracker_notification | lt.alert.category_t.peer_notification),
}, 0)
ses.add_extension("ut_metadata")
alerts = AlertWaiter(ses)


def emit(record):
    print(json.dumps(record), flush=True)


handle = ses.add_torrent({
    "ti": lt.torrent_info(args.torrent),
    "save_path": args.save,
    "flags": lt.torrent_flags.default_flags | lt.torrent_flags.disable_pex,
})
problems, replies = [], []
stdin_closed = threading.Event()
if args.peer:
    threading.Thread(target=lambda: (sys.stdin.read(), stdin_closed.set()), daemon=True).start()
    host, port = args.peer.rsplit(":", 1)
    while ses.listen_port() == 0:
        alerts.pop(100)
    handle.connect_peer((host, int(port)))

connected = False
deadline = time.monotonic() + args.timeout
status = handle.status()
while time.monotonic() < deadline:
    for alert in alerts.pop(200):
        if isinstance(alert, lt.tracker_reply_alert):
            replies.append(alert.num_peers)
        elif isinstance(alert, (lt.tracker_error_alert, lt.hash_failed_alert, lt.torrent_error_alert,
                                lt.file_error_alert, lt.peer_error_alert)):
            problems.append(type(alert).__name__ + ": " + alert.message())
    status = handle.status()
    if args.peer:
        if not connected and any(peer.ip[1] == int(port) for peer in handle.get_peer_info()):
            connected = True
            emit({"connected": True})
        if stdin_closed.is_set():
            break
    if status.is_seeding:
        break

emit({"result": {
    "seeding": status.is_seeding,
    "pieces": status.num_pieces,
    "payload_downloaded": status.total_payload_download,
    "connected": connected,
    "tracker_replies": replies,
    "problems": problems[:20],
}})
