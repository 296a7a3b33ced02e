"""Seeds one torrent with python3-libtorrent for scripts/bench/wire.sh: TCP only (no uTP, DHT, LSD, UPnP,
NAT-PMP), no rate limits, plaintext. Checks the data fully before it prints 'READY port=<port>', so no lazy
hashing happens while a leecher measures it. Runs until SIGTERM.
usage: /usr/bin/python3 lt_seed.py TORRENT SAVE_DIR"""
import signal
import sys
import time

import libtorrent as lt

torrent, save_dir = sys.argv[1], sys.argv[2]
ses = lt.session({
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
    "out_enc_policy": int(lt.enc_policy.disabled),
    "in_enc_policy": int(lt.enc_policy.enabled),
}, 0)  # 0: no default plugins, so no peer exchange
h = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir})
t0 = time.time()
while not h.status().is_seeding:
    if time.time() - t0 > 300:
        sys.exit("seeder: data check did not finish, or the data does not match")
    time.sleep(0.05)
print(f"READY port={ses.listen_port()} check_s={time.time() - t0:.2f}", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(1)
