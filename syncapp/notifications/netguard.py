"""Which addresses a notification may reach (issue 20: server-side request forgery).

A target's URL is chosen by its owner and the server connects to it: left open, any signed-in
user could make the server reach what only it can (the database, Redis, a router's admin page,
a cloud's metadata service at 169.254.169.254) and read from the answers which ports respond.
So a target of a user who is not an administrator may reach public addresses only, unless the
administrator sets `notifications.allow_private_networks` (self-hosters often run ntfy, Gotify
or a mail relay on their LAN: they switch it on and accept that every user can then reach the
LAN from the server). An administrator's targets may reach any host.

The rule is checked twice: when a target is saved (a clear 400 for a literal or resolving
private host) and, what actually holds, on every connection a send makes. `public_only()`
marks the current thread; while it is marked, every socket connect of that thread (requests,
smtplib, any Apprise plugin) resolves its host once, refuses if any resolved address is not
public, and connects to the address it checked: a DNS name that answers a public address to the
check and a private one to the connection (rebinding) still reaches the checked one. Apprise is
run in the sending thread (senders.py turns off its worker threads) so the mark applies.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator

#: IPv6 prefixes that carry an IPv4 address (NAT64): judged by the address they carry
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_state = threading.local()
_install_lock = threading.Lock()
_installed = False
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


class PrivateAddress(OSError):
    """A connection of a public-only send was refused: its address is not public."""


def is_public(address: str) -> bool:
    """Whether `address` (an IP literal) is a public unicast address: not loopback, private,
    link-local, shared (100.64/10), multicast, unspecified or reserved, in IPv4 or IPv6, nor an
    IPv6 form of such an IPv4 address (mapped ::ffff:a.b.c.d, NAT64, 6to4, Teredo)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        carried = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if carried is None and ip in _NAT64:
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if carried is not None and not is_public(str(carried)):
            return False
    return bool(
        ip.is_global
        and not (
            ip.is_multicast
            or ip.is_loopback
            or ip.is_private
            or ip.is_link_local
            or ip.is_unspecified
            or ip.is_reserved
        )
    )


def resolve(host: str, port: int | None = None) -> list[str]:
    """Every address `host` resolves to (an IP literal: itself); [] when it does not resolve."""
    try:
        found = _getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def refused_addresses(host: str) -> list[str]:
    """The addresses of `host` that are not public ([]: all public, or it does not resolve)."""
    return [address for address in resolve(host) if not is_public(address)]


@contextlib.contextmanager
def public_only(enabled: bool = True) -> Iterator[None]:
    """While this lasts, the current thread connects to public addresses only (when `enabled`).
    `refusals()` tells afterwards whether a connection was refused."""
    _install()
    before = getattr(_state, "public_only", False)
    _state.public_only = enabled or before
    _state.refused = []
    try:
        yield
    finally:
        _state.public_only = before


def refusals() -> list[str]:
    """The hosts the current thread's last public_only() refused."""
    return list(getattr(_state, "refused", []))


def _checked(sock: socket.socket, address):
    """`address` as the guarded connect uses it: resolved once, every address checked."""
    if not getattr(_state, "public_only", False):
        return address
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return address  # a Unix socket or similar: not a network address
    host, port, *rest = address
    found = _getaddrinfo(host, port, sock.family, socket.SOCK_STREAM)
    addresses = [info[4] for info in found]
    bad = [a[0] for a in addresses if not is_public(str(a[0]))]
    if bad or not addresses:
        _state.refused.append(str(host))
        raise PrivateAddress(f"refused: {host} is not a public address")
    return (addresses[0][0], addresses[0][1], *rest)


def _guarded_connect(self: socket.socket, address) -> None:
    return _connect(self, _checked(self, address))


def _guarded_connect_ex(self: socket.socket, address) -> int:
    return _connect_ex(self, _checked(self, address))


def _install() -> None:
    """Put the guard on socket.socket.connect once per process; a thread not marked public-only
    passes straight through (one attribute look-up)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
        _installed = True
