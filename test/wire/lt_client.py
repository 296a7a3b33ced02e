"""A python3-libtorrent leecher for edgepeer's peer wire tests and benchmark: TCP only (no uTP, DHT, LSD,
UPnP, NAT-PMP), no tracker; it is told the peer to dial. Prints one JSON line.

usage: /usr/bin/python3 lt_client.py (--torrent FILE | --magnet URI) --save DIR --peer HOST:PORT
           [--timeout S] [--until complete|pieces:N] [--peer-lacks K] [--encryption plain|default|forced|rc4]
           [--utp] [--download-limit BYTES_PER_S]
  --utp              try uTP first, as libtorrent does by default (TCP when the uTP attempt fails)
  --encryption       plain: plaintext handshakes only (default here); default: libtorrent's own defaults
                     (tries an encrypted handshake first); forced: encrypted handshakes only; rc4: encrypted
                     handshakes offering RC4 only (as Transmission does by default)
  --download-limit   the torrent's download limit (a download slow enough to be watched; libtorrent applies
                     a torrent's limits to loopback peers too, its session's not)
  --until pieces:N   stop once N pieces are verified (for a peer that holds only some)
  --peer-lacks K     also wait until the peer says it no longer has K (lt_donthave, seen in libtorrent's
                     peer log; libtorrent drops an upload-only peer it needs nothing from at once)
"""
import argparse
import json
import os
import re
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from lt_alerts import AlertWaiter  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--torrent")
p.add_argument("--magnet")
p.add_argument("--save", required=True)
p.add_argument("--peer", required=True)
p.add_argument("--timeout", type=float, default=60)
p.add_argument("--until", default="complete")
p.add_argument("--peer-lacks", type=int, default=None)
p.add_argument("--encryption", default="plain")
p.add_argument("--utp", action="store_true")
p.add_argument("--download-limit", type=int, default=0)
args = p.parse_args()

host, port = args.peer.rsplit(":", 1)
peer = (host.strip("[]"), int(port))
settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_incoming_utp": False,
    "enable_outgoing_utp": False,
    "upload_rate_limit": 0,
    "download_rate_limit": 0,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                      | lt.alert.category_t.peer_notification | lt.alert.category_t.peer_log_notification),
}
if args.utp:
    settings["enable_outgoing_utp"] = True
    settings["enable_incoming_utp"] = True
if args.encryption == "plain":
    settings["out_enc_policy"] = int(lt.enc_policy.disabled)
elif args.encryption == "rc4":
    settings["out_enc_policy"] = int(lt.enc_policy.forced)
    settings["in_enc_policy"] = int(lt.enc_policy.forced)
    settings["allowed_enc_level"] = int(lt.enc_level.rc4)
elif args.encryption == "forced":
    settings["out_enc_policy"] = int(lt.enc_policy.forced)
    settings["in_enc_policy"] = int(lt.enc_policy.forced)
# No default plugins (flags 0), then all of them but ut_pex: peer exchange is off, as DHT, LSD, UPnP and
# NAT-PMP are above.
ses = lt.session(settings, 0)
ses.add_extension("ut_metadata")
ses.add_extension("smart_ban")
alerts = AlertWaiter(ses)

if args.torrent:
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
else:
    atp = lt.parse_magnet_uri(args.magnet)
atp.save_path = args.save
t0 = time.time()
h = ses.add_torrent(atp)
if args.download_limit > 0:
    h.set_download_limit(args.download_limit)
h.connect_peer(peer)
last_connect = t0
problems = []
disconnects = []
want_pieces = None
if args.until.startswith("pieces:"):
    want_pieces = int(args.until.split(":")[1])


def peer_pieces():
    for info in h.get_peer_info():
        if info.ip[1] == peer[1]:
            return [i for i, has in enumerate(info.pieces) if has]
    return None


first_peer_pieces = None  # the pieces the peer advertised, once known
donthave = []
DONT_HAVE = re.compile(r"DONT_HAVE.*?(\d+)")


done = False
while True:
    for alert in alerts.pop(10):
        if isinstance(alert, (lt.hash_failed_alert, lt.torrent_error_alert, lt.file_error_alert)):
            problems.append(type(alert).__name__ + ": " + alert.message())
        elif isinstance(alert, lt.peer_disconnected_alert):
            disconnects.append(alert.message())
        elif isinstance(alert, lt.peer_log_alert):
            m = DONT_HAVE.search(alert.message())
            if m and "<==" in alert.message():
                donthave.append(int(m.group(1)))
    st = h.status()
    if first_peer_pieces is None and st.has_metadata:
        pp = peer_pieces()
        if pp:
            first_peer_pieces = pp
    if args.until == "complete":
        done = st.is_seeding
    else:
        done = st.has_metadata and st.num_pieces >= want_pieces
    if done and args.peer_lacks is not None:
        done = args.peer_lacks in donthave
    if done:
        break
    now = time.time()
    if now - t0 > args.timeout:
        break
    # With --utp the first dial is left to libtorrent's own fallback: dialling again would try uTP again.
    if st.num_peers == 0 and now - last_connect > 1 and not args.utp:
        h.connect_peer(peer)
        last_connect = now

seconds = time.time() - t0
st = h.status()
result = {
    "done": done,
    "seconds": round(seconds, 3),
    "has_metadata": st.has_metadata,
    "num_pieces": st.num_pieces,
    "have": [i for i, has in enumerate(st.pieces) if has] if st.has_metadata else [],
    "peer_pieces": first_peer_pieces,
    "donthave": donthave,
    "problems": problems,
    "disconnects": disconnects[-5:],
    "bytes": h.torrent_file().total_size() if st.has_metadata else 0,
}
print(json.dumps(result), flush=True)
