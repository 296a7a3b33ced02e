"""python3-libtorrent peers for the tracker interop tests: TCP peer wire only (DHT, LSD, UPnP, NAT-PMP and
uTP off), plaintext, loopback. Prints JSON lines on stdout.

usage:
  tracker_lt.py seed TORRENT SAVE_DIR
      Checks the data, prints {"ready": PORT}, seeds until stdin closes. Announces to no tracker.
  tracker_lt.py leech TORRENT SAVE_DIR [--tracker URL] [--web-seeds-from URL] [--timeout S] [--stay 1]
                     [--download-limit BYTES_PER_S] [--upload-limit BYTES_PER_S]
      --tracker: the only way libtorrent learns of peers (the torrent itself names no tracker and no web seed).
      --web-seeds-from: announce once to this tracker ourselves (libtorrent does not read url-list from
      tracker answers), add every url-list entry as a web seed; with no --tracker there are no peers at all.
      Prints {"result": {...}} at the end: seeding, progress, BitTorrent peers connected, web seeds, problems.
      --stay 1: then keep the session (seeding, announced) until stdin closes.
      --download-limit, --upload-limit: the torrent's rate limits (libtorrent applies them to loopback peers too).
      --trace FILE: write what the download did to FILE as JSON lines, wall-clock seconds (time.time()) in
      "t": the script's start, the session, the torrent added, each tracker reply, each peer connected, each
      piece finished, the download done, and twice a second every peer's payload rate, bytes, choke and
      queue state (scripts/bench/policy-real.ts TRACE=1 compares them with the simulator's phases).
"""
import time

SCRIPT_START = time.time()

import json
import os
import sys
import urllib.parse
import urllib.request

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from lt_alerts import AlertWaiter  # noqa: E402


# Torrents are added with peer exchange off (as DHT, LSD, UPnP and NAT-PMP are in the session below): this
# client learns of peers only from the tracker or the test.
NO_PEX = lt.torrent_flags.default_flags | lt.torrent_flags.disable_pex


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                          | lt.alert.category_t.tracker_notification | lt.alert.category_t.peer_notification),
    })


def emit(record):
    print(json.dumps(record), flush=True)


def seed(torrent, save_dir):
    ses = session()
    alerts = AlertWaiter(ses)
    handle = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir, "flags": NO_PEX})
    deadline = time.monotonic() + 60
    while not handle.status().is_seeding:
        if time.monotonic() > deadline:
            sys.exit("seeder: data check did not finish, or the data does not match")
        alerts.pop(100)
    emit({"ready": ses.listen_port()})
    sys.stdin.read()


def url_list_from(alerts, tracker, info_hash, total, wait_s=20):
    """The url-list of the tracker's answer, asked until it has one (or wait_s passed).

    The session's listen port first: announced as 0 while it is not up, which a tracker refuses. Asked again
    while the answer has no url-list: on a loaded machine the CDN's own announce may reach the tracker a
    moment after ours. The last failure reason, if any, goes to stderr."""
    ses = alerts.session
    deadline = time.monotonic() + wait_s
    while ses.listen_port() == 0 and time.monotonic() < deadline:
        alerts.pop(100)
    last = None
    while True:
        query = urllib.parse.urlencode({
            "info_hash": info_hash, "peer_id": b"-LT2080-webseedonly0", "port": ses.listen_port(),
            "uploaded": 0, "downloaded": 0, "left": total, "compact": 1, "numwant": 0, "event": "started",
        })
        with urllib.request.urlopen(f"{tracker}?{query}", timeout=10) as response:
            answer = lt.bdecode(response.read())
        urls = answer.get(b"url-list", [])
        if isinstance(urls, bytes):
            urls = [urls]
        last = answer.get(b"failure reason")
        if urls or time.monotonic() >= deadline:
            if not urls and last:
                print(f"tracker failure reason: {last.decode(errors='replace')}", file=sys.stderr)
            return [url.decode() for url in urls]
        time.sleep(0.5)


def leech(torrent, save_dir, args):
    tracker = web_seeds_from = None
    stay = False
    download_limit = 0
    upload_limit = 0
    timeout = 90.0
    trace_file = None
    while args:
        flag, value, args = args[0], args[1], args[2:]
        if flag == "--tracker":
            tracker = value
        elif flag == "--web-seeds-from":
            web_seeds_from = value
        elif flag == "--timeout":
            timeout = float(value)
        elif flag == "--stay":
            stay = value == "1"
        elif flag == "--download-limit":
            download_limit = int(value)
        elif flag == "--upload-limit":
            upload_limit = int(value)
        elif flag == "--trace":
            trace_file = open(value, "w")
    trace = (lambda record: trace_file.write(json.dumps({"t": time.time(), **record}) + "\n")) if trace_file else None
    if trace:
        trace({"ev": "script", "at": SCRIPT_START})
    ses = session()
    alerts = AlertWaiter(ses)
    if trace:
        ses.apply_settings({"alert_mask": ses.get_settings()["alert_mask"]
                            | int(lt.alert.category_t.piece_progress_notification
                                  | lt.alert.category_t.connect_notification)})
        trace({"ev": "session"})
    ti = lt.torrent_info(torrent)
    handle = ses.add_torrent({"ti": ti, "save_path": save_dir, "flags": NO_PEX})
    if download_limit > 0:
        handle.set_download_limit(download_limit)
    if upload_limit > 0:
        handle.set_upload_limit(upload_limit)
    web_seeds = []
    if web_seeds_from:
        web_seeds = url_list_from(alerts, web_seeds_from, bytes.fromhex(str(ti.info_hash())), ti.total_size())
        for url in web_seeds:
            handle.add_url_seed(url)
        emit({"web_seeds": web_seeds})
    if trace:
        trace({"ev": "added"})
    if tracker:
        handle.add_tracker({"url": tracker, "tier": 0})
        handle.force_reannounce()
    peers, problems, replies, disconnects = set(), [], [], []
    deadline = time.monotonic() + timeout
    status = handle.status()
    next_sample = 0.0
    while not status.is_seeding and time.monotonic() < deadline:
        for alert in alerts.pop(200):
            if trace:
                trace_alert(trace, alert)
            if isinstance(alert, lt.tracker_reply_alert):
                emit({"tracker_reply": alert.num_peers})
                replies.append(alert.num_peers)
            elif isinstance(alert, (lt.peer_disconnected_alert, lt.peer_error_alert)) and len(disconnects) < 20:
                disconnects.append(alert.message())
            elif isinstance(alert, (lt.tracker_error_alert, lt.url_seed_alert, lt.hash_failed_alert,
                                    lt.torrent_error_alert, lt.file_error_alert)):
                problems.append(type(alert).__name__ + ": " + alert.message())
        for peer in handle.get_peer_info():
            if peer.connection_type == lt.peer_info.standard_bittorrent:
                peers.add(f"{peer.ip[0]}:{peer.ip[1]}")
        status = handle.status()
        if trace and (time.monotonic() >= next_sample or status.is_seeding):
            next_sample = time.monotonic() + 0.5
            trace_sample(trace, handle, status)
    if trace:
        trace({"ev": "done", "seeding": status.is_seeding})
    # Let the completed announce reach the tracker before the session goes away.
    if status.is_seeding and tracker:
        handle.force_reannounce()
        end = time.monotonic() + 5
        while time.monotonic() < end:
            if any(isinstance(alert, lt.tracker_reply_alert) for alert in alerts.pop(200)):
                break
    if trace:
        trace({"ev": "result"})
        trace_file.close()
    emit({"result": {
        "seeding": status.is_seeding,
        "progress": status.progress,
        "peers": sorted(peers),
        "web_seeds": web_seeds,
        "problems": problems,
        # Peers in each tracker answer: tells "not listed" from "listed but not reached" when a run fails.
        "tracker_replies": replies,
        "disconnects": disconnects,
        "payload_downloaded": status.total_payload_download,
    }})
    if stay:
        sys.stdin.read()


def peer_name(peer_id):
    """An edgepeer agent by its peer id (-EP...), another client by its peer id's random part."""
    raw = peer_id.to_bytes()
    return "agent" if raw.startswith(b"-EP") else raw[8:].hex()


def trace_alert(trace, alert):
    if isinstance(alert, lt.tracker_reply_alert):
        trace({"ev": "tracker_reply", "peers": alert.num_peers})
    elif isinstance(alert, lt.peer_connect_alert):
        trace({"ev": "connect", "peer": peer_name(alert.pid)})
    elif isinstance(alert, lt.peer_disconnected_alert):
        trace({"ev": "disconnect", "peer": peer_name(alert.pid)})
    elif isinstance(alert, lt.piece_finished_alert):
        trace({"ev": "piece", "piece": alert.piece_index})


def trace_sample(trace, handle, status):
    peers = []
    for peer in handle.get_peer_info():
        if peer.connection_type != lt.peer_info.standard_bittorrent:
            continue
        peers.append({
            "peer": peer_name(peer.pid),
            "down": peer.payload_down_speed, "up": peer.payload_up_speed,
            "got": peer.total_download, "sent": peer.total_upload,
            "choked_us": bool(peer.flags & lt.peer_info.remote_choked),
            "we_choke": bool(peer.flags & lt.peer_info.choked),
            "interesting": bool(peer.flags & lt.peer_info.interesting),
            "queue": peer.download_queue_length, "seed": bool(peer.flags & lt.peer_info.seed),
            "incoming": not bool(peer.flags & lt.peer_info.outgoing_connection),
        })
    trace({"ev": "sample", "rate": status.download_payload_rate, "got": status.total_payload_download,
           "pieces": status.num_pieces, "peers": peers})


def main():
    mode, torrent, save_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(save_dir, exist_ok=True)
    if mode == "seed":
        seed(torrent, save_dir)
    elif mode == "leech":
        leech(torrent, save_dir, sys.argv[4:])
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
