"""python3-libtorrent swarm for the topology interop test: seeds and leechers, each a session of its own
bound to its own loopback address (its PID), TCP peer wire only (DHT, LSD, UPnP, NAT-PMP, uTP and PEX off),
plaintext. Every session learns of peers only from the tracker. Prints one JSON line at the end.

usage:
  topology_lt.py DATA_FILE WORK_DIR TRACKER_URL SEED_IPS LEECHER_IPS NUM_WANT SEED_UPLOAD_LIMIT TIMEOUT_S
      SEED_IPS, LEECHER_IPS: comma-separated. The torrent is made here from DATA_FILE (64 KiB pieces).
      Seeds start first and announce; once every seed has a tracker reply, the leechers start, asking for
      NUM_WANT peers. Each session uploads at most SEED_UPLOAD_LIMIT bytes/s (0: unlimited) so that a
      leecher's bytes come from every peer it is connected to, not from whichever answered first.
      Result: {"leechers": {IP: {"seeding": bool, "bytes_from": {SOURCE_IP: payload bytes}}}}.
"""
import json
import os
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from lt_alerts import AlertWaiter  # noqa: E402

NO_PEX = lt.torrent_flags.default_flags | lt.torrent_flags.disable_pex


def session(ip, num_want):
    return lt.session({
        "listen_interfaces": f"{ip}:0",
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "num_want": num_want,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                          | lt.alert.category_t.tracker_notification),
    })


def make_torrent(data_file):
    fs = lt.file_storage()
    lt.add_files(fs, data_file)
    torrent = lt.create_torrent(fs, 64 * 1024)
    lt.set_piece_hashes(torrent, os.path.dirname(data_file))
    return lt.torrent_info(torrent.generate())


def wait_for_replies(sessions, deadline):
    waiters = [AlertWaiter(ses) for ses in sessions]
    waiting = set(range(len(sessions)))
    while waiting and time.monotonic() < deadline:
        for index in list(waiting):
            for alert in waiters[index].pop(50):
                if isinstance(alert, lt.tracker_reply_alert):
                    waiting.discard(index)
                elif isinstance(alert, lt.tracker_error_alert):
                    print(f"tracker error: {alert.message()}", file=sys.stderr)
    if waiting:
        sys.exit(f"no tracker reply for sessions {sorted(waiting)}")


def main():
    data_file, work_dir, tracker = sys.argv[1], sys.argv[2], sys.argv[3]
    seed_ips = sys.argv[4].split(",")
    leecher_ips = sys.argv[5].split(",")
    num_want, upload_limit, timeout = int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
    ti = make_torrent(data_file)
    deadline = time.monotonic() + timeout
    seeds = []
    for ip in seed_ips:
        ses = session(ip, num_want)
        handle = ses.add_torrent({"ti": ti, "save_path": os.path.dirname(data_file),
                                  "flags": NO_PEX | lt.torrent_flags.seed_mode})
        if upload_limit > 0:
            handle.set_upload_limit(upload_limit)
        handle.add_tracker({"url": tracker, "tier": 0})
        seeds.append((ses, handle))
    wait_for_replies([ses for ses, _ in seeds], deadline)
    leechers = []
    for index, ip in enumerate(leecher_ips):
        ses = session(ip, num_want)
        handle = ses.add_torrent({"ti": ti, "save_path": os.path.join(work_dir, f"leecher{index}"), "flags": NO_PEX})
        if upload_limit > 0:
            handle.set_upload_limit(upload_limit)
        handle.add_tracker({"url": tracker, "tier": 0})
        leechers.append((ip, ses, handle))
    # Payload bytes from each source address: the peers' running totals (kept at their largest, since a
    # peer that disconnects drops out of the list).
    bytes_from = {ip: {} for ip in leecher_ips}
    while time.monotonic() < deadline:
        for ip, ses, handle in leechers:
            ses.pop_alerts()
            for peer in handle.get_peer_info():
                source = peer.ip[0]
                bytes_from[ip][source] = max(bytes_from[ip].get(source, 0), peer.total_download)
        if all(handle.status().is_seeding for _, _, handle in leechers):
            break
        time.sleep(0.05)
    for _, ses, _ in leechers + [(None, ses, None) for ses, _ in seeds]:
        ses.pause()
    print(json.dumps({"leechers": {
        ip: {"seeding": handle.status().is_seeding, "bytes_from": bytes_from[ip],
             "payload_downloaded": handle.status().total_payload_download}
        for ip, _, handle in leechers
    }}), flush=True)


if __name__ == "__main__":
    main()
