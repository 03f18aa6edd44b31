"""A tiny authoritative DNS server on loopback, so that name resolution is tested without the network."""

from __future__ import annotations

import ipaddress
import socket
from typing import Mapping

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import gevent
from gevent.server import DatagramServer

from healthcrawl.testing.servers import BackgroundServer

TTL_SECONDS = 60
_IP_VERSION_OF_TYPE = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}


class LocalDNSServer(BackgroundServer):
    """A UDP DNS server on 127.0.0.1 answering A and AAAA queries for the names in ``records``.

    ``records`` maps a name (case-insensitive, trailing dot optional) to one address or a list of
    IPv4/IPv6 addresses; other names get NXDOMAIN. ``delay`` holds every answer back that many
    seconds (change it at any time), for timeout tests.
    """

    server_class = DatagramServer

    def __init__(self, records: Mapping[str, str | list[str]], delay: float = 0.0) -> None:
        self.records = {
            dns.name.from_text(name): [
                ipaddress.ip_address(address)
                for address in ([addresses] if isinstance(addresses, str) else addresses)
            ]
            for name, addresses in records.items()
        }
        self.delay = delay
        self.queries = 0
        """DNS queries received so far."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        super().__init__(sock)

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form a resolver setting takes."""
        return f"127.0.0.1:{self.port}"

    def _handle(self, data: bytes, client: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        self.queries += 1
        gevent.sleep(self.delay)
        self._server.sendto(self._answer(query).to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        for question in query.question:
            addresses = self.records.get(question.name)
            if addresses is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                continue
            version = _IP_VERSION_OF_TYPE.get(question.rdtype)
            matching = [str(address) for address in addresses if address.version == version]
            if matching:
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name, TTL_SECONDS, dns.rdataclass.IN, question.rdtype, matching
                    )
                )
        return response
