"""Refuse to send webhooks to private, loopback, link-local and other non-public addresses
(server-side request forgery), unless ``KASSA_WEBHOOKS_ALLOW_PRIVATE`` is set."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    pass


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raise ``UnsafeURL`` unless every address the host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("Only http and https URLs with a host are allowed")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except socket.gaierror as error:
        raise UnsafeURL(f"Cannot resolve {parts.hostname}") from error
    addresses = {str(info[4][0]) for info in infos}
    blocked = sorted(a for a in addresses if not _is_public(a))
    if blocked:
        raise UnsafeURL(f"{parts.hostname} resolves to a non-public address ({blocked[0]})")
