"""Turning target lines into URLs: bare domains become https URLs, junk becomes invalid_target."""

import pytest

from healthcrawl.target_parsing import parse_target


@pytest.mark.parametrize(
    "line, url",
    [
        ("example.com", "https://example.com/"),
        ("  Example.COM  ", "https://example.com/"),
        ("http://example.org/health", "http://example.org/health"),
        ("https://example.org:8443/a?b=c", "https://example.org:8443/a?b=c"),
        ("example.com/status", "https://example.com/status"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("bücher.de", "https://xn--bcher-kva.de/"),
    ],
)
def test_valid_lines_become_urls(line, url):
    target = parse_target(line)
    assert target.invalid is None
    assert target.url == url


@pytest.mark.parametrize(
    "line, reason",
    [
        ("not a url", "white space"),
        ("ftp://example.com/", "unsupported scheme"),
        ("http://", "no host"),
        ("http://exa_mple..com/", "not a valid host name"),
        ("http://example.com:99999/", "bad host or port"),
        ("-bad-.com", "not a valid host name"),
    ],
)
def test_invalid_lines_say_why(line, reason):
    target = parse_target(line)
    assert target.invalid is not None and reason in target.invalid
    assert target.url == line.strip()
