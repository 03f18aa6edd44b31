"""crawl.deny_networks / allow_networks: refused on the address actually connected to, for every hop.

A loopback listener stands in for an internal service (Redis, PostgreSQL): nothing answers on it,
but any connection would be queued, so "nothing connected" is checked exactly. A local DNS server
answers public-looking names with loopback addresses, as a hostile or rebinding name would.
"""

import dataclasses
import json
import socket

import pytest

from healthcrawl import CrawlSettings
from healthcrawl.distributed.chunks import RunSpec
from healthcrawl.fetching.network_policy import PRIVATE_NETWORKS, BlockedAddress, NetworkPolicy
from healthcrawl.plugin_system.manager import create_plugin_manager
from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.dns_server import LocalDNSServer
from healthcrawl.testing.proxy import ForwardProxy
from healthcrawl.testing.servers import HTTPTestServer

DENY_PRIVATE = {"deny_networks": ["private"]}


def crawl(targets, **settings):
    config = {"crawl": {"timeout": 2, **settings}, "sources": [{"type": "list", "targets": targets}], "checks": []}
    return records_by_target(run_crawl(config))


@pytest.fixture
def internal_service():
    """A listener on 127.0.0.1 standing in for an internal service; ``connections(listener)`` counts who came."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        yield listener


def connections(listener: socket.socket) -> int:
    """How many connections reached ``listener`` (each is accepted and closed)."""
    count = 0
    while True:
        try:
            accepted, _ = listener.accept()
        except BlockingIOError:
            return count
        accepted.close()
        count += 1


def port_of(listener: socket.socket) -> int:
    return listener.getsockname()[1]


def test_a_public_looking_name_that_resolves_to_loopback_is_blocked_and_nothing_connects(internal_service, http_server):
    port = port_of(internal_service)
    with LocalDNSServer({"public.example": "127.0.0.1"}) as dns:
        blocked, healthy = f"http://public.example:{port}/", f"http://public.example:{http_server.port}/"
        records = crawl([blocked], nameservers=[dns.address], **DENY_PRIVATE)
        open_records = crawl([healthy], nameservers=[dns.address])
    record = records[blocked]
    assert record["error_kind"] == "blocked_address" and record["ok"] is False
    assert record["error"] == "127.0.0.1 is in a denied network (127.0.0.0/8 of crawl.deny_networks)"
    assert record["status_code"] is None and record["timings"]["dns_ms"] is not None
    assert connections(internal_service) == 0
    assert open_records[healthy]["ok"] is True  # the default stays open: a health checker checks internal services


def test_a_redirect_from_an_allowed_server_to_an_internal_port_is_blocked(internal_service):
    internal = f"http://127.0.0.1:{port_of(internal_service)}/"
    with HTTPTestServer(bind_all_loopback=True) as server:
        server.route("/", redirect_to=internal)
        start = server.url("/", host="127.0.0.2")
        record = crawl([start], deny_networks=["private"], allow_networks=["127.0.0.2/32"])[start]
        assert server.hits["/"] == 1
    assert record["error_kind"] == "blocked_address", record["error"]
    assert record["redirects"] == 1 and record["final_url"] == internal
    assert connections(internal_service) == 0


def test_a_redirect_to_a_name_that_resolves_to_an_internal_address_is_blocked(internal_service):
    """The check is on the address connected to, never on the URL: a rebinding name cannot dodge it."""
    port = port_of(internal_service)
    with HTTPTestServer(bind_all_loopback=True) as server, LocalDNSServer(
        {"public.example": "127.0.0.2", "rebound.example": "127.0.0.1"}
    ) as dns:
        server.route("/", redirect_to=f"http://rebound.example:{port}/")
        start = f"http://public.example:{server.port}/"
        settings = {"nameservers": [dns.address], "allow_networks": ["127.0.0.2"]}
        record = crawl([start], **DENY_PRIVATE, **settings)[start]
    assert record["error_kind"] == "blocked_address" and record["redirects"] == 1
    assert record["error"] == "127.0.0.1 is in a denied network (127.0.0.0/8 of crawl.deny_networks)"
    assert connections(internal_service) == 0


@pytest.mark.parametrize(
    "host, denied_by",
    [
        ("[::1]", "::1/128"),
        ("[::ffff:127.0.0.1]", "127.0.0.0/8"),  # IPv4-mapped: checked as the IPv4 address it carries
        ("[::ffff:7f00:1]", "127.0.0.0/8"),
        ("[::]", "::/128"),
        ("0.0.0.0", "0.0.0.0/8"),
        ("169.254.169.254", "169.254.0.0/16"),  # the cloud metadata address
        ("[::ffff:169.254.169.254]", "169.254.0.0/16"),
        ("10.1.2.3", "10.0.0.0/8"),
        ("172.31.0.1", "172.16.0.0/12"),
        ("192.168.1.1", "192.168.0.0/16"),
        ("[fd00:ec2::254]", "fc00::/7"),
        ("[fe80::1]", "fe80::/10"),
        ("2130706433", "127.0.0.0/8"),  # 127.0.0.1 written as one number
    ],
)
def test_private_covers_loopback_rfc1918_link_local_unique_local_and_their_ipv4_mapped_forms(internal_service, host, denied_by):
    url = f"http://{host}:{port_of(internal_service)}/"
    record = next(iter(crawl([url], **DENY_PRIVATE).values()))
    assert record["error_kind"] == "blocked_address", record["error"]
    assert record["error"].endswith(f" is in a denied network ({denied_by} of crawl.deny_networks)")
    assert connections(internal_service) == 0


def test_a_denied_cidr_covers_the_ipv4_mapped_form_of_its_addresses(internal_service):
    url = f"http://[::ffff:127.0.0.1]:{port_of(internal_service)}/"
    record = next(iter(crawl([url], deny_networks=["127.0.0.0/8"]).values()))
    assert record["error"] == "::ffff:127.0.0.1 is in a denied network (127.0.0.0/8 of crawl.deny_networks)"


def test_allow_networks_makes_exceptions_to_the_denied_ones(http_server):
    url = http_server.url("/")
    assert crawl([url], deny_networks=["private"], allow_networks=["127.0.0.0/8"])[url]["ok"] is True
    assert crawl([url], deny_networks=["127.0.0.0/8"], allow_networks=["::ffff:127.0.0.1"])[url]["error_kind"] == (
        "blocked_address"
    )
    only_loopback_one = {"deny_networks": ["0.0.0.0/0", "::/0"], "allow_networks": ["127.0.0.1"]}
    assert crawl([url], **only_loopback_one)[url]["ok"] is True


def test_public_addresses_stay_allowed_by_private():
    policy = NetworkPolicy.from_settings(["private"], [])
    for address in ("93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "100.100.100.200"):
        policy.check(address)
    for network in PRIVATE_NETWORKS:
        with pytest.raises(BlockedAddress):
            policy.check(str(network.network_address))


def test_every_worker_process_enforces_the_policy(internal_service):
    urls = [f"http://127.0.0.1:{port_of(internal_service)}/{n}" for n in range(6)]
    records = crawl(urls, workers=2, concurrency=4, **DENY_PRIVATE)
    assert {record["error_kind"] for record in records.values()} == {"blocked_address"}
    assert connections(internal_service) == 0


def test_distributed_workers_receive_the_networks_with_the_settings():
    entry = {"deny_networks": ["private", "203.0.113.0/24"], "allow_networks": ["10.1.0.0/16"]}
    spec = RunSpec.build("r1", "q", CrawlSettings(), entry, [], create_plugin_manager())
    loaded = RunSpec(**json.loads(json.dumps(dataclasses.asdict(spec)))).settings()
    assert loaded.deny_networks == ("private", "203.0.113.0/24") and loaded.allow_networks == ("10.1.0.0/16",)


def test_through_a_proxy_the_proxy_address_is_the_one_checked(http_server):
    url = http_server.url("/")
    with ForwardProxy() as proxy:
        blocked = crawl([url], proxy=proxy.url, **DENY_PRIVATE)[url]
        assert proxy.requests == 0
        allowed = crawl([url], proxy=proxy.url, deny_networks=["private"], allow_networks=["127.0.0.1"])[url]
        assert proxy.requests == 1
    assert blocked["error_kind"] == "blocked_address"
    assert blocked["error"] == "127.0.0.1 is in a denied network (127.0.0.0/8 of crawl.deny_networks)"
    assert allowed["ok"] is True


def test_bad_networks_are_config_errors_naming_the_key(tmp_path, healthcrawl_cli):
    config = tmp_path / "crawl.yaml"
    config.write_text(
        "crawl: {deny_networks: [PRIVATE, 10.0.0.1/8, public], allow_networks: [1.2.3.4/33]}\n"
        "sources: [{type: list, targets: [a.example]}]\n"
    )
    result = healthcrawl_cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: crawl.deny_networks[1]: 10.0.0.1/8 has host bits set (expected a CIDR such as 10.0.0.0/8, an address, or private)",
        "error: crawl.deny_networks[2]: 'public' does not appear to be an IPv4 or IPv6 network "
        "(expected a CIDR such as 10.0.0.0/8, an address, or private)",
        "error: crawl.allow_networks[0]: '1.2.3.4/33' does not appear to be an IPv4 or IPv6 network "
        "(expected a CIDR such as 10.0.0.0/8, an address, or private)",
    ]
    config.write_text("crawl: {allow_networks: [10.0.0.0/8]}\nsources: [{type: list, targets: [a.example]}]\n")
    result = healthcrawl_cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: crawl.allow_networks: has no effect without crawl.deny_networks (it lists exceptions to it)"
    ]
