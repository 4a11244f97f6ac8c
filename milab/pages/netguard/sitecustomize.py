"""Loaded by every Python process the page runner starts for the Azure CLI (it is on their
PYTHONPATH): an audit hook that refuses any connection, datagram or name lookup that is not
loopback. The CLI reaches Azure only through the emulator's proxy on 127.0.0.1; anything that
tries to go around it (a hard-coded public host, a DNS lookup, IMDS at 169.254.169.254 without
the proxy) fails here with PermissionError instead of leaving the machine."""
from __future__ import annotations

import ipaddress
import socket
import sys

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%", 1)[0]
    if host.lower() in _LOOPBACK_NAMES or host == "":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hook(event: str, args) -> None:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, addr = args[0], args[-1]
        if getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6) and isinstance(addr, tuple) \
                and not _loopback(addr[0]):
            raise PermissionError(f"milab netguard: connection to {addr[0]}:{addr[1]} refused; only loopback "
                                  f"(the emulator's proxy) may be reached")
    elif event == "socket.getaddrinfo":
        if not _loopback(args[0]):
            raise PermissionError(f"milab netguard: name lookup of {args[0]!r} refused; only loopback "
                                  f"(the emulator's proxy) may be reached")
    elif event == "socket.gethostbyname":
        if not _loopback(args[0]):
            raise PermissionError(f"milab netguard: name lookup of {args[0]!r} refused")


def install() -> None:
    if not getattr(sys, "_milab_netguard", False):
        sys.addaudithook(_hook)
        sys._milab_netguard = True


install()
