"""The outcome an operator expects from real servers (nginx, Apache, HAProxy, lighttpd, Caddy, openssl s_server):
basic auth, redirects to https, an empty reply, HEAD-only paths, client certificates and HTTP/2 only.

The servers come from Debian packages (``conftest.py`` here starts them); without one, its tests
skip, or fail under ``HEALTHCRAWL_REQUIRE_SERVICES=1``.
"""

import pytest

from healthcrawl.testing.crawl import run_crawl

ALL = ["nginx", "apache", "haproxy", "lighttpd", "caddy"]
WITH_CLIENT_CERTIFICATE_HANDSHAKE = ["apache", "haproxy", "lighttpd", "caddy"]


@pytest.fixture
def judge(healthcrawl_ca):
    """``judge(url, checks=(), request=None)``: crawl one URL, trusting the test CA, and return its record."""

    def run(url, checks=(), request=None):
        crawl = {"timeout": 10, "verify": healthcrawl_ca.ca_bundle_path, **({"request": request} if request else {})}
        (record,) = run_crawl({"crawl": crawl, "sources": [{"type": "list", "targets": [url]}], "checks": list(checks)})
        return record

    return run


STATUS_200 = [{"type": "status", "expect": [200]}]


@pytest.mark.parametrize("name", ALL)
def test_a_plain_get_passes(servers, judge, name):
    record = judge(servers(name).urls["ok"], STATUS_200)
    assert record["ok"] is True, record


@pytest.mark.parametrize("name", ALL)
def test_basic_auth_from_the_url_passes_and_is_never_shown(servers, judge, credentials, name):
    user, password = credentials
    url = servers(name).urls["auth"]
    with_credentials = judge(url.replace("http://", f"http://{user}:{password}@"), STATUS_200)
    wrong = judge(url.replace("http://", f"http://{user}:wrong@"), STATUS_200)
    missing = judge(url, STATUS_200)
    assert with_credentials["ok"] is True, with_credentials
    assert with_credentials["target"] == url.replace("http://", f"http://{user}:***@")
    assert password not in repr(with_credentials)
    assert wrong["status_code"] == 401 and missing["status_code"] == 401
    assert wrong["error_kind"] is None and wrong["ok"] is False


@pytest.mark.parametrize("name", ALL)
def test_a_redirect_to_https_is_asserted_without_following_it(servers, judge, name):
    check = {"type": "redirect", "status": [301], "to_https": True, "host": "localhost"}
    record = judge(servers(name).urls["redirect"], [check], {"follow_redirects": False})
    assert record["ok"] is True, record
    assert record["status_code"] == 301 and record["redirects"] == 0


def test_nginx_444_is_an_empty_reply(servers, judge):
    record = judge(servers("nginx").urls["empty"])
    assert record["error_kind"] == "protocol_error"
    assert record["error"] == "the server closed the connection without sending a response (empty reply)"


@pytest.mark.parametrize("name, refused", [("nginx", 403), ("apache", 405)])
def test_a_head_only_path_passes_with_head_and_refuses_get(servers, judge, name, refused):
    url = servers(name).urls["head_only"]
    assert judge(url, STATUS_200, {"method": "HEAD"})["ok"] is True
    assert judge(url, STATUS_200)["status_code"] == refused


@pytest.mark.parametrize("name", WITH_CLIENT_CERTIFICATE_HANDSHAKE)
def test_a_client_certificate_is_required_in_the_handshake(servers, judge, healthcrawl_ca, name):
    url = servers(name).urls["mtls"]
    with_cert = judge(url, STATUS_200, {"client_cert": healthcrawl_ca.client_certificate_path()})
    without = judge(url, STATUS_200)
    assert with_cert["ok"] is True, with_cert
    assert without["error_kind"] == "tls_error", without
    assert without["error"].startswith("the server requires a client certificate"), without["error"]
    assert without["tls"]["verified"] is True


def test_nginx_answers_a_missing_client_certificate_with_400(servers, judge, healthcrawl_ca):
    url = servers("nginx").urls["mtls_http_status"]
    assert judge(url, STATUS_200, {"client_cert": healthcrawl_ca.client_certificate_path()})["ok"] is True
    without = judge(url, STATUS_200)
    assert without["error_kind"] is None and without["status_code"] == 400


def test_haproxy_http2_only_is_named(servers, judge):
    record = judge(servers("haproxy").urls["h2_only"])
    assert record["error_kind"] == "protocol_error"
    assert record["error"].startswith("server speaks only HTTP/2"), record["error"]


def test_openssl_alpn_h2_only_is_named(openssl_server, judge):
    record = judge(openssl_server("-alpn", "h2").urls["url"])
    assert record["error_kind"] == "protocol_error"
    assert record["error"].startswith("server speaks only HTTP/2 (the handshake found no common application protocol")


def test_openssl_tls13_client_certificate(openssl_server, healthcrawl_ca, judge):
    url = openssl_server("-Verify", "1").urls["url"]
    with_cert = judge(url, STATUS_200, {"client_cert": healthcrawl_ca.client_certificate_path()})
    without = judge(url)
    assert with_cert["ok"] is True, with_cert
    assert without["error_kind"] == "tls_error" and without["tls"]["verified"] is True
    assert without["error"].startswith("the server requires a client certificate")


def test_openssl_tls12_client_certificate_refusal_ends_the_handshake(openssl_server, judge):
    record = judge(openssl_server("-Verify", "1", "-tls1_2").urls["url"])
    assert record["error_kind"] == "tls_error" and record["tls"]["verified"] is False
    assert "handshake failure" in record["error"]
