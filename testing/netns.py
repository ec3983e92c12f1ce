"""A network namespace with loopback only: real servers in it cannot reach anything outside.

`LoopbackOnly()` starts a holder process in a fresh namespace (`unshare -n`) with `lo` up. Code in
`with ns.entered():` runs in that namespace, and so does every thread and process it starts (a
new thread or child inherits the namespace of the thread that made it), so a test can start a
server there and run pinbot in-process against it on 127.0.0.1. Needs root (CAP_SYS_ADMIN) and
util-linux `unshare` and iproute2 `ip`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
HOLDER = "ip link set lo up && echo up && exec sleep infinity"


class NamespaceError(RuntimeError):
    pass


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise NamespaceError(f"setns: {os.strerror(error)} (needs root)")


class LoopbackOnly:
    def __init__(self) -> None:
        try:
            self.holder = subprocess.Popen(
                ["unshare", "-n", "--", "sh", "-c", HOLDER],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise NamespaceError(f"cannot run unshare: {exc}") from None
        assert self.holder.stdout is not None
        if self.holder.stdout.readline().strip() != b"up":
            self.holder.wait(5)
            err = self.holder.stderr.read().decode() if self.holder.stderr else ""
            raise NamespaceError(f"unshare -n failed (root needed?): {err.strip()}")
        self.path = f"/proc/{self.holder.pid}/ns/net"

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block (and what it starts) in the namespace; back home afterwards."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.path, os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()
        for stream in (self.holder.stdout, self.holder.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> LoopbackOnly:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
