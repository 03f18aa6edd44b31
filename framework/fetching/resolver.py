"""Name resolution for the transport, cached per run.

``crawl.resolver`` picks how: ``thread`` runs the system's ``getaddrinfo`` in gevent's
thread pool (at most its size at once), or asks ``crawl.nameservers`` through a dnspython
stub resolver when they are set; ``ares`` uses c-ares (bundled with gevent), which runs
any number of lookups at once, against ``crawl.nameservers`` or the system's.
"""

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


RESOLVERS = ("thread", "ares")


class GeventResolver:
    """``getaddrinfo`` through one of gevent's resolvers: its thread pool or c-ares."""

    def __init__(self, resolver):
        self._resolver = resolver

    def resolve(self, host: str) -> list[str]:
        infos = self._resolver.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
        return _unique(info[4][0] for info in infos)


def _thread_resolver() -> GeventResolver:
    from gevent.resolver.thread import Resolver as ThreadResolver

    return GeventResolver(ThreadResolver(gevent.get_hub()))


def _ares_resolver(nameservers: list[str], timeout: float) -> GeventResolver:
    from gevent.resolver.ares import Resolver as AresResolver

    options: dict = {"timeout": timeout, "tries": 2}
    if nameservers:
        hosts_and_ports = [split_nameserver(spec) for spec in nameservers]
        options["servers"] = [host for host, _ in hosts_and_ports]
        options["udp_port"] = options["tcp_port"] = hosts_and_ports[0][1]
    return GeventResolver(AresResolver(gevent.get_hub(), **options))


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


def build_resolver(kind: str = "thread", nameservers: list[str] | None = None, timeout: float = 5.0) -> CachingResolver:
    """The run's resolver (``kind`` is one of ``RESOLVERS``), always cached for the run."""
    if kind == "ares":
        inner: Resolver = _ares_resolver(list(nameservers or ()), timeout)
    elif nameservers:
        inner = NameserverResolver(list(nameservers), timeout)
    else:
        inner = _thread_resolver()
    return CachingResolver(inner)


def split_nameserver(spec: str) -> tuple[str, int]:
    """``"ip"``, ``"ip:port"`` or ``"[ipv6]:port"`` as ``(ip, port)``; raises ``ValueError`` when malformed."""
    host, port = spec, 53
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
        port = int(port_text)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


def _parse_nameserver(spec: str, nameserver_module):
    return nameserver_module.Do53Nameserver(*split_nameserver(spec))


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))
