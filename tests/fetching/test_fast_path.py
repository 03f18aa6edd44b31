"""The per-request work the profile showed is gone, and what it did is still done where it matters."""

import socket

from healthcrawl.fetching import tls_facts
from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.servers import HTTPTestServer, free_port


def crawl(targets, **settings):
    config = {
        "crawl": {"timeout": 5, **settings},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    }
    return run_crawl(config)


def test_proxy_variables_in_the_environment_are_not_consulted(monkeypatch):
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with HTTPTestServer() as server:
        [record] = crawl([server.url("/")])
    assert record["ok"], record


def test_ip_literal_targets_never_ask_the_resolver(monkeypatch):
    def no_lookups(*args, **kwargs):
        raise AssertionError(f"getaddrinfo{args} called for an IP literal")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    with HTTPTestServer() as server:
        [record] = crawl([server.url("/")])
    assert record["ok"], record
    assert record["timings"]["dns_ms"] is None


def test_cookies_set_by_a_redirect_are_sent_on_the_next_hop_only_within_the_chain():
    with HTTPTestServer() as server:
        server.route("/login", redirect_to="/home", headers={"Set-Cookie": "session=abc; Path=/"})
        server.route("/home", body="welcome")
        first = crawl([server.url("/login")])
        assert first[0]["ok"] and first[0]["final_url"] == server.url("/home")
        assert server.last_headers["/home"]["Cookie"] == "session=abc"
        crawl([server.url("/home")])  # a new chain starts without cookies
        assert server.last_headers["/home"]["Cookie"] is None


def test_a_certificate_shared_by_many_targets_is_parsed_once():
    tls_facts._certificate_fields.cache_clear()
    with CertAuthority() as ca, HTTPTestServer(tls=True, ca=ca, bind_all_loopback=True) as server:
        targets = [server.url("/", host=f"127.0.0.{i}") for i in range(1, 21)]
        records = records_by_target(crawl(targets, verify=False))
    assert all(record["tls"]["subject"] for record in records.values())
    info = tls_facts._certificate_fields.cache_info()
    assert (info.misses, info.hits) == (1, 19)
