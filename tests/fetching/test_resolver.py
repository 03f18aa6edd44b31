"""crawl.resolver (thread | ares) and crawl.nameservers, against the in-repo DNS server; lookups cached per run."""

import pytest

from healthcrawl import ConfigError
from healthcrawl.configuration.loading import build_config
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry
from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.dns_server import LocalDNSServer
from healthcrawl.testing.servers import HTTPTestServer


def crawl(targets, **settings):
    return records_by_target(run_crawl({
        "crawl": {"timeout": 5, **settings},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    }))


@pytest.mark.parametrize("resolver", ["thread", "ares"])
def test_names_resolve_through_the_configured_nameservers_once_per_run(resolver):
    with HTTPTestServer() as server, LocalDNSServer({"site.test": "127.0.0.1"}) as dns:
        site = f"http://site.test:{server.port}"
        records = crawl([f"{site}/?a", f"{site}/?b", f"{site}/?c", f"http://missing.test:{server.port}/"],
                        resolver=resolver, nameservers=[dns.address], concurrency=1)
        site_queries = dns.queries - 2  # missing.test: one A and one AAAA question
    assert [records[f"{site}/?{q}"]["ok"] for q in "abc"] == [True, True, True]
    assert records[f"{site}/?a"]["timings"]["dns_ms"] is not None
    assert records[f"http://missing.test:{server.port}/"]["error_kind"] == "dns_error"
    assert site_queries <= 2  # A and AAAA for the first target; the others hit the run's cache


def test_ares_without_nameservers_uses_the_system_configuration():
    with HTTPTestServer() as server:
        records = crawl([f"http://localhost:{server.port}/"], resolver="ares")
    assert records[f"http://localhost:{server.port}/"]["ok"]


def config_problems(crawl_section):
    registry = ComponentRegistry.from_plugins(get_plugin_manager())
    with pytest.raises(ConfigError) as error:
        build_config({"crawl": crawl_section, "sources": [{"type": "list", "targets": ["a.test"]}]}, registry)
    return error.value.problems


def test_bad_resolver_settings_name_the_key():
    assert config_problems({"resolver": "bind"}) == ["crawl.resolver: must be one of: thread, ares"]
    assert config_problems({"nameservers": ["dns.example"]}) == [
        "crawl.nameservers[0]: 'dns.example' is not an \"ip\" or \"ip:port\" nameserver"
    ]
    assert config_problems({"resolver": "ares", "nameservers": ["127.0.0.1:53", "127.0.0.2:5353"]}) == [
        "crawl.nameservers: with resolver ares, every nameserver must use the same port"
    ]
