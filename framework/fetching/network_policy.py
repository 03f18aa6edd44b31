"""``crawl.deny_networks`` and ``crawl.allow_networks``: the addresses the crawler may not connect to.

The check runs on the address a socket is about to connect to (after name resolution, for the
first request and every redirect hop), so a name that resolves to an internal address, at any
time (DNS rebinding), is refused as well. An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is
checked as itself and as the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PRIVATE = "private"
"""The preset name that stands for ``PRIVATE_NETWORKS`` in a list of networks."""
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network": connecting to 0.0.0.0 reaches the local host
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, with the cloud metadata address 169.254.169.254
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::/128",  # the unspecified address: reaches the local host too
        "::1/128",
        "fc00::/7",  # unique-local (AWS's IPv6 metadata address fd00:ec2::254 is one)
        "fe80::/10",
    )
)
"""What ``private`` covers: loopback, RFC 1918, link-local, unique-local and the unspecified addresses."""


class BlockedAddress(OSError):
    """A connection refused by the crawl's network policy before it was attempted: ``blocked_address``."""


def parse_networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """The networks of a ``deny_networks``/``allow_networks`` list: CIDRs, single addresses and ``private``.

    Raises ``ValueError`` naming the first bad entry (for example ``10.0.0.1/8 has host bits set``).
    """
    networks: list[Network] = []
    for spec in specs:
        if spec.strip().lower() == PRIVATE:
            networks.extend(PRIVATE_NETWORKS)
        else:
            networks.append(ipaddress.ip_network(spec.strip()))
    return tuple(networks)


@dataclass(frozen=True)
class NetworkPolicy:
    """Which addresses may be connected to: all but ``denied``, where ``allowed`` makes exceptions."""

    denied: tuple[Network, ...] = ()
    allowed: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, deny_networks: Iterable[str], allow_networks: Iterable[str]) -> "NetworkPolicy":
        """The policy of ``crawl.deny_networks`` and ``crawl.allow_networks`` (validated already)."""
        return cls(parse_networks(deny_networks), parse_networks(allow_networks))

    def check(self, address: str) -> None:
        """Raise ``BlockedAddress`` when ``address`` (an IP address, no brackets) may not be connected to."""
        if not self.denied:
            return
        ip = ipaddress.ip_address(address)
        mapped = getattr(ip, "ipv4_mapped", None)  # IPv6 only
        candidates = [ip] if mapped is None else [ip, mapped]
        denied_by = next((network for each in candidates for network in self.denied if each in network), None)
        if denied_by is None or any(each in network for each in candidates for network in self.allowed):
            return
        shown = ip if mapped is None else f"::ffff:{mapped}"  # the same on every Python (3.13 changed str())
        raise BlockedAddress(f"{shown} is in a denied network ({denied_by} of crawl.deny_networks)")


OPEN = NetworkPolicy()
"""The default: every address may be connected to."""
