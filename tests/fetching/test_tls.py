"""TLS: verification failures are tls_error with the certificate's fields still filled in.

Servers and crawls come from the ``healthcrawl.testing`` pytest plugin (``make_server``, ``crawl``).
"""

import pytest


@pytest.fixture
def crawl_one(crawl):
    """Crawl one server's ``/`` as ``localhost`` (the name its certificate is for) and return the record."""

    def run(server, checks=(), **settings):
        url = server.url("/", host="localhost")
        config = {"crawl": {"timeout": 5, **settings}, "sources": [{"type": "list", "targets": [url]}],
                  "checks": list(checks)}
        (record,) = crawl(config)
        return record

    return run


def test_healthy_certificate_is_verified_and_passes_expiry(make_server, crawl_one):
    record = crawl_one(make_server(days_left=90), [{"type": "tls_expiry", "min_days": 14}])
    tls = record["tls"]
    assert record["ok"] is True and record["error_kind"] is None
    assert tls["verified"] is True and 88 <= tls["days_left"] <= 90
    assert "localhost" in tls["sans"] and tls["version"].startswith("TLS")
    assert tls["subject"] and tls["issuer"] and tls["not_after"]
    assert record["timings"]["tls_ms"] is not None
    assert record["checks"] == [{"name": "tls_expiry", "ok": True, "detail": record["checks"][0]["detail"]}]


def test_certificate_expiring_in_5_days_fails_tls_expiry_at_14(make_server, crawl_one):
    record = crawl_one(make_server(days_left=5), [{"type": "status"}, {"type": "tls_expiry", "min_days": 14}])
    assert record["error_kind"] is None and record["ok"] is False
    assert record["tls"]["verified"] is True and record["tls"]["days_left"] in (4, 5)
    outcomes = {c["name"]: c for c in record["checks"]}
    assert outcomes["status"]["ok"] is True
    assert outcomes["tls_expiry"]["ok"] is False and "fewer than 14" in outcomes["tls_expiry"]["detail"]


@pytest.mark.parametrize(
    "kind, message, days",
    [("expired", "expired", (-3, -3)), ("untrusted", "verify failed", (1, 10**7)), ("wrong_host", "match", (1, 10**7))],
)
def test_verification_failures_still_report_the_certificate(make_server, crawl_one, kind, message, days):
    record = crawl_one(make_server(cert=kind), [{"type": "tls_expiry", "min_days": 14}])
    tls = record["tls"]
    assert record["error_kind"] == "tls_error" and message in record["error"]
    assert tls["verified"] is False
    assert tls["days_left"] is not None and days[0] <= tls["days_left"] <= days[1]
    assert tls["not_after"] and tls["subject"] and tls["issuer"]


def test_expired_certificate_fails_tls_expiry_too(make_server, crawl_one):
    record = crawl_one(make_server(cert="expired"), [{"type": "tls_expiry", "min_days": 14}])
    assert record["checks"][0]["name"] == "tls_expiry" and record["checks"][0]["ok"] is False


def test_verify_false_fetches_but_marks_unverified(make_server, crawl_one):
    record = crawl_one(make_server(cert="untrusted"), verify=False)
    assert record["error_kind"] is None and record["status_code"] == 200
    assert record["tls"]["verified"] is False and record["tls"]["days_left"] is not None


@pytest.mark.parametrize("days, shown", [(-3.4, -3), (5.5, 5), (0.4, 0)])
def test_days_left_is_whole_days_truncated_toward_zero(make_server, crawl_one, days, shown):
    """A certificate that expired 3 days and some hours ago reads -3, not -4."""
    record = crawl_one(make_server(cert="expired" if days < 0 else "valid", days_left=days), [])
    assert record["tls"]["days_left"] == shown
