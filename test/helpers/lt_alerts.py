"""Waiting for libtorrent alerts without session.wait_for_alert().

wait_for_alert() hands Python a pointer to the first alert in the session's queue, and the binding reads that
alert's type after the queue's lock is released: a session thread posting alerts meanwhile may grow the queue,
which moves its alerts, and the read lands in freed memory. python3-libtorrent 2.0.8 died of it (SIGSEGV in
caller<alert const* (*)(session&, int)>) under the high rate of peer_log alerts. Here libtorrent writes a byte to
a pipe when its queue stops being empty (set_alert_fd), select() waits on that, and the alerts are only read
from pop_alerts(), which takes them under the lock.
"""
import os
import select


class AlertWaiter:
    def __init__(self, session):
        self.session = session
        self.read_fd, write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        # A full pipe already says "alerts waiting": the session's thread must never block on it.
        os.set_blocking(write_fd, False)
        session.set_alert_fd(write_fd)
        # libtorrent writes only when its queue goes from empty to not empty, so alerts queued before now
        # would not wake the first wait: it returns at once instead.
        os.write(write_fd, b"\0")

    def pop(self, timeout_ms):
        """The alerts posted so far, after waiting up to timeout_ms for the first (an empty list when none came)."""
        ready, _, _ = select.select([self.read_fd], [], [], timeout_ms / 1000)
        if ready:
            try:
                while os.read(self.read_fd, 4096):
                    pass
            except BlockingIOError:
                pass
        return self.session.pop_alerts()
