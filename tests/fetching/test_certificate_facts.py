"""Certificate facts read from OpenSSL's decoding of a verified certificate equal cryptography's parse."""

import ssl

import pytest
import trustme

from healthcrawl.fetching import tls_facts
from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import HTTPTestServer

AWKWARD_NAMES = [
    "plain",
    'ACME, Inc. + "Co" <x>; back\\slash',
    "#leading hash",
    " leading and trailing space ",
    "Zürich 東京",
]


def handshake_in_memory(leaf: trustme.LeafCert, ca: trustme.CA, server_hostname: str) -> ssl.SSLObject:
    """A real OpenSSL handshake between a client and a server object over memory buffers; the client's object."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(client_in, client_out, server_hostname=server_hostname)
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if client.version() and server.version():
            try:
                client.do_handshake()
                return client
            except ssl.SSLWantReadError:
                continue
    raise AssertionError("the in-memory handshake did not finish")


@pytest.mark.parametrize("organization", AWKWARD_NAMES)
def test_a_verified_certificate_is_described_as_cryptography_describes_it(organization):
    ca = trustme.CA(organization_name=organization)
    leaf = ca.issue_cert(
        "host.example", "127.0.0.1", "::1", common_name="host.example", organization_name=organization,
        organization_unit_name="unit; with = signs",
    )
    client = handshake_in_memory(leaf, ca, "host.example")
    der = client.getpeercert(binary_form=True)
    from_cryptography = tls_facts.describe_certificate(der, verified=True, version="TLSv1.3")
    tls_facts.note_verified_certificate(der, client.getpeercert)
    assert der in tls_facts._decoded_by_openssl, "OpenSSL's decoding was not used"
    from_openssl = tls_facts.describe_certificate(der, verified=True, version="TLSv1.3")
    assert from_openssl == from_cryptography
    assert from_openssl.sans == ("host.example", "127.0.0.1", "::1")


def test_a_verified_fetch_keeps_its_facts_without_a_cryptography_parse():
    tls_facts._certificate_fields.cache_clear()
    with CertAuthority() as ca, HTTPTestServer(tls=True, ca=ca) as server:
        [record] = run_crawl(
            {
                "crawl": {"timeout": 5, "verify": ca.ca_bundle_path},
                "sources": [{"type": "list", "targets": [server.url("/")]}],
                "checks": [{"type": "status"}],
            }
        )
    assert record["ok"] and record["tls"]["verified"] and record["tls"]["subject"], record
    assert tls_facts._certificate_fields.cache_info().misses == 0
