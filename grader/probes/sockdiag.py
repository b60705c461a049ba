"""What the kernel's sock_diag interface knows about listening sockets and
/proc does not: whether an AF_INET6 socket is IPv6-only (IPV6_V6ONLY).

Rule: this probe only observes. It asks ``ss`` (iproute2), which prints a
dual-stack socket on ``::`` as ``*:PORT`` and an IPv6-only one as
``[::]:PORT``; when ``ss`` is missing it says so (None) and the checks fall
back on behaviour (an IPv4 client refused by the AF_INET6 socket)."""

from __future__ import annotations

import os
import shutil
import subprocess

_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/bin", "/usr/sbin", "/sbin"])


def listening(port: int) -> list[str] | None:
    """The local-address column of every TCP socket listening on ``port``
    (``*:8080``, ``[::]:8080``, ``0.0.0.0:8080`` ...), or None without ``ss``."""
    ss = shutil.which("ss", path=_PATH)
    if ss is None:
        return None
    try:
        out = subprocess.run([ss, "-ltnH"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1] == str(port):
            found.append(fields[3])
    return found


def wildcard_v6only(port: int) -> bool | None:
    """For the socket listening on ``::`` port ``port``: True if it is
    IPv6-only, False if dual stack, None if there is none or ``ss`` cannot say."""
    lines = listening(port)
    if not lines:
        return None
    if f"*:{port}" in lines:
        return False
    if f"[::]:{port}" in lines:
        return True
    return None
