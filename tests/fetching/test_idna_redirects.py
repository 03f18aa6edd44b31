"""A redirect's host name is mapped like a target's: IDNA 2008, UTS 46 non-transitional, nothing dropped in silence."""

from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.dns_server import LocalDNSServer


def crawl(targets, nameserver):
    config = {"crawl": {"timeout": 5, "nameservers": [nameserver]},
              "sources": [{"type": "list", "targets": targets}], "checks": []}
    return records_by_target(run_crawl(config))


def test_a_sharp_s_is_kept_in_a_target_and_in_a_redirect(http_server):
    port = http_server.port
    http_server.route("/landing", body="landed")
    http_server.route("/to-sharp-s", redirect_to=f"http://faß.test:{port}/landing")  # Location is sent as latin-1
    # Only the IDNA 2008 form resolves: IDNA 2003 (fass.test) would be a dns_error.
    with LocalDNSServer({"xn--fa-hia.test": "127.0.0.1", "start.test": "127.0.0.1"}) as dns:
        target, redirecting = f"http://faß.test:{port}/landing", f"http://start.test:{port}/to-sharp-s"
        records = crawl([target, redirecting], dns.address)
    assert records[f"http://xn--fa-hia.test:{port}/landing"]["ok"] is True
    assert records[redirecting]["ok"] is True, records[redirecting]["error"]
    assert records[redirecting]["final_url"] == f"http://xn--fa-hia.test:{port}/landing"


def test_a_redirect_to_a_name_with_an_invisible_character_is_a_protocol_error(http_server):
    port = http_server.port
    http_server.route("/landing", body="landed")
    http_server.route("/to-soft-hyphen", redirect_to=f"http://ex\xadample.test:{port}/landing")
    # UTS 46 drops a soft hyphen: following it would check example.test, a name nobody listed.
    with LocalDNSServer({"example.test": "127.0.0.1", "start.test": "127.0.0.1"}) as dns:
        redirecting = f"http://start.test:{port}/to-soft-hyphen"
        record = crawl([redirecting], dns.address)[redirecting]
    assert record["error_kind"] == "protocol_error", record
    assert "U+00AD" in record["error"] and "redirect to" in record["error"]
