"""Name resolution for the transport: the system resolver or explicit nameservers, cached per run."""

from __future__ import annotations

import ipaddress
import socket
from typing import Protocol

import gevent.event


class Resolver(Protocol):
    """Turns a host name into the IP addresses to try, in order; raises ``socket.gaierror``."""

    def resolve(self, host: str) -> list[str]: ...


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address (brackets allowed), which needs no lookup."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class SystemResolver:
    """``getaddrinfo`` through gevent's configured resolver (thread pool by default)."""

    def resolve(self, host: str) -> list[str]:
        infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
        return _unique(info[4][0] for info in infos)


class NameserverResolver:
    """A stub resolver that asks the given nameservers (``"ip"`` or ``"ip:port"``) directly.

    Queries go through dnspython over the (monkey-patched) socket module, so they
    cooperate with gevent. A and AAAA are both asked; IPv4 addresses come first.
    """

    def __init__(self, nameservers: list[str], timeout: float = 5.0):
        import dns.nameserver
        import dns.resolver

        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [_parse_nameserver(ns, dns.nameserver) for ns in nameservers]
        self._resolver.lifetime = timeout
        self._resolver.cache = None

    def resolve(self, host: str) -> list[str]:
        import dns.exception
        import dns.resolver

        addresses: list[str] = []
        failure = "no address"
        for rdtype in ("A", "AAAA"):
            try:
                answer = self._resolver.resolve(host, rdtype, search=False)
            except dns.resolver.NXDOMAIN:
                raise socket.gaierror(socket.EAI_NONAME, f"{host}: name does not exist") from None
            except (dns.resolver.NoAnswer, dns.resolver.NoNameservers) as error:
                failure = str(error)
                continue
            except dns.exception.Timeout:
                raise socket.gaierror(socket.EAI_AGAIN, f"{host}: DNS lookup timed out") from None
            addresses.extend(rdata.address for rdata in answer)
        if not addresses:
            raise socket.gaierror(socket.EAI_NODATA, f"{host}: {failure}")
        return addresses


class CachingResolver:
    """Remembers each answer (and each failure) for the rest of the run.

    Concurrent lookups of the same name wait for the first one instead of
    asking again, so a list with many URLs on one host costs one lookup.
    """

    def __init__(self, resolver: Resolver):
        self._resolver = resolver
        self._answers: dict[str, list[str] | socket.gaierror] = {}
        self._pending: dict[str, gevent.event.Event] = {}

    def resolve(self, host: str) -> list[str]:
        key = host.lower().rstrip(".")
        while key not in self._answers:
            pending = self._pending.get(key)
            if pending is not None:
                pending.wait()
                continue
            self._pending[key] = event = gevent.event.Event()
            try:
                self._answers[key] = self._resolver.resolve(host)
            except socket.gaierror as error:
                self._answers[key] = error
            finally:
                del self._pending[key]
                event.set()
        answer = self._answers[key]
        if isinstance(answer, socket.gaierror):
            raise answer
        return answer


def build_resolver(nameservers: list[str] | None) -> CachingResolver:
    """The run's resolver: explicit nameservers when given, else the system's; always cached."""
    inner: Resolver = NameserverResolver(nameservers) if nameservers else SystemResolver()
    return CachingResolver(inner)


def _parse_nameserver(spec: str, nameserver_module):
    host, port = spec, 53
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
        port = int(port_text)
    return nameserver_module.Do53Nameserver(host, port)


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))
