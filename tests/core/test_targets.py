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


# Internationalised names: IDNA 2008 with UTS 46 non-transitional processing.

@pytest.mark.parametrize(
    "line, url",
    [
        ("faß.de", "https://xn--fa-hia.de/"),  # IDNA 2003 (transitional) would crawl fass.de
        ("Faß.DE", "https://xn--fa-hia.de/"),
        ("ⓔⓧⓐⓜⓟⓛⓔ.com", "https://example.com/"),  # UTS 46 maps compatibility letters, as browsers do
        ("ｅｘａｍｐｌｅ.com", "https://example.com/"),  # fullwidth letters (above the surrogates) too
        ("xn--fa-hia.de", "https://xn--fa-hia.de/"),
        ("XN--FA-HIA.de", "https://xn--fa-hia.de/"),
        ("bücher.de.", "https://xn--bcher-kva.de./"),
        ("http://ü.de:8080/x", "http://xn--tda.de:8080/x"),
    ],
)
def test_internationalised_names_are_mapped_with_idna_2008(line, url):
    target = parse_target(line)
    assert (target.url, target.invalid) == (url, None)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("exa\u200bmple.com", "invisible character U+200B"),  # a zero-width space is not dropped
        ("exa\u00admple.com", "invisible character U+00AD"),  # nor a soft hyphen
        ("exa\u200dmple.com", "Joiner U+200D not allowed"),  # a zero-width joiner outside its context
        ("xn--abc.com", "not a valid host name"),  # an A-label that is not valid punycode of a valid name
        ("ü_x.de", "not a valid host name"),
        ("١٢٣.com", "directionality"),  # the bidi rule
        ("ab--c.ü.de", "hyphens in 3rd and 4th position"),
    ],
)
def test_names_idna_refuses_are_invalid_targets_with_its_reason(line, reason):
    target = parse_target(line)
    assert target.invalid is not None and reason in target.invalid, target.invalid


# Lines that are not text a URL can be made of: invalid before anything else, stored in a safe form.

@pytest.mark.parametrize(
    "line, reason, stored",
    [
        ("exa\x00mple.com", "contains a NUL byte", "exa\\x00mple.com"),
        ("exa\udc80mple.com", "contains an undecodable byte or a lone surrogate (\\udc80)", "exa\\udc80mple.com"),
        ("exa\x07mple.com", "contains the control character \\x07", "exa\\x07mple.com"),
        ("exa\x7fmple.com", "contains the control character \\x7f", "exa\\x7fmple.com"),
        ("exa\x85mple.com", "a target cannot contain white space", "exa\\x85mple.com"),  # NEL is white space to Python
        ("example.com/\x1b[31m", "contains the control character \\x1b", "example.com/\\x1b[31m"),
    ],
)
def test_control_characters_and_lone_surrogates_are_invalid_and_stored_escaped(line, reason, stored):
    target = parse_target(line)
    assert target.invalid == reason
    assert target.url == stored
    target.url.encode("utf-8")  # storable anywhere


def test_a_target_of_the_maximum_length_is_valid_and_one_more_character_is_not():
    from healthcrawl.target_parsing import MAX_TARGET_LENGTH

    assert MAX_TARGET_LENGTH == 2048  # documented in docs/results.md
    prefix = "https://example.com/"
    longest = prefix + "a" * (MAX_TARGET_LENGTH - len(prefix))
    assert parse_target(longest).invalid is None and parse_target(f"  {longest}  ").invalid is None
    too_long = parse_target(longest + "a")
    assert too_long.invalid == f"longer than {MAX_TARGET_LENGTH} characters ({MAX_TARGET_LENGTH + 1})"
    assert too_long.url == f"{longest}... (cut at {MAX_TARGET_LENGTH} characters)"


# Credentials: a password is masked, a bare user name (often a token) is masked whole.

@pytest.mark.parametrize(
    "line, url, auth",
    [
        ("https://alice:secret@example.com/x", "https://alice:***@example.com/x", ("basic", "alice", "secret")),
        ("https://ghp_T0KEN@example.com/", "https://***@example.com/", ("basic", "ghp_T0KEN", "")),
        ("https://sk_live_T0KEN:@example.com/", "https://***@example.com/", ("basic", "sk_live_T0KEN", "")),
        ("https://:secret@example.com/", "https://:***@example.com/", ("basic", "", "secret")),
        ("https://a%40b:p%40ss@example.com/", "https://a%40b:***@example.com/", ("basic", "a@b", "p@ss")),
    ],
)
def test_credentials_become_basic_auth_and_are_masked(line, url, auth):
    target = parse_target(line)
    assert (target.url, target.invalid, target.request["auth"]) == (url, None, auth)


@pytest.mark.parametrize(
    "text, masked",
    [
        ("proxy http://TOKEN@proxy:3128 down", "proxy http://***@proxy:3128 down"),
        ("http://u:p@ss@h/ and https://v:q@k/", "http://u:***@h/ and https://v:***@k/"),
        ("http://u@x:pw@h/", "http://u@x:***@h/"),
        ("rediss://:pw@cache:6380/1", "rediss://:***@cache:6380/1"),
        ("mailto:someone@example.com https://h/a@b", "mailto:someone@example.com https://h/a@b"),
        ("no url here", "no url here"),
    ],
)
def test_mask_credentials_masks_every_userinfo_and_nothing_else(text, masked):
    from healthcrawl.target_parsing import mask_credentials

    assert mask_credentials(text) == masked


def test_an_invalid_line_with_a_token_is_stored_masked():
    target = parse_target("ftp://T0KEN@example.com/")
    assert target.invalid.startswith("unsupported scheme") and target.url == "ftp://***@example.com/"
    assert "T0KEN" not in repr(target)


# Boundaries and every rejection (they keep mutation testing's survivors dead: see mutation/modules.toml).

@pytest.mark.parametrize(
    "line, url",
    [
        ("a" * 63 + ".com", "https://" + "a" * 63 + ".com/"),  # the longest label
        (".".join(["a" * 63] * 3 + ["b" * 61]), "https://" + ".".join(["a" * 63] * 3 + ["b" * 61]) + "/"),  # 253
        ("a-b.c-d.com", "https://a-b.c-d.com/"),
        ("_dmarc.example.com", "https://_dmarc.example.com/"),
        ("HTTP://Example.COM", "http://example.com/"),
        ("hTTpS://example.com/A/B", "https://example.com/A/B"),
        ("example.com:0", "https://example.com:0/"),
        ("example.com:65535", "https://example.com:65535/"),
        ("example.com:", "https://example.com/"),
        ("http://example.com?q=1", "http://example.com/?q=1"),
        ("https://example.com/a?b=c#frag", "https://example.com/a?b=c"),
        ("[::1]", "https://[::1]/"),
        ("http://[0:0::0:1]:81/", "http://[::1]:81/"),
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
        ("http://10.0.0.1/", "http://10.0.0.1/"),
        ("\t example.com \n", "https://example.com/"),
        ("example.com.", "https://example.com./"),
    ],
)
def test_valid_boundaries(line, url):
    target = parse_target(line)
    assert (target.url, target.invalid) == (url, None)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("", "empty target"),
        ("   \t ", "empty target"),
        ("a" * 64 + ".com", "is not a valid host name"),  # one more than the longest label
        (".".join(["a" * 63] * 3 + ["b" * 62]), "is not a valid host name"),  # 254 characters
        ("-a.com", "is not a valid host name"),
        ("a-.com", "is not a valid host name"),
        ("a.-b.com", "is not a valid host name"),
        ("a..com", "is not a valid host name"),
        ("exa$mple.com", "is not a valid host name"),
        ("example.com:65536", "bad host or port"),
        ("example.com:-1", "bad host or port"),
        ("example.com:http", "bad host or port"),
        ("http://[::1/", "bad host or port: Invalid IPv6 URL"),
        ("http://[::1]x/", "has more after the IPv6 address"),
        ("http://[::1]x:80/", "has more after the IPv6 address"),
        ("example.com..", "is not a valid host name"),
        ("http:///path", "no host name"),
        ("file:///etc/passwd", "unsupported scheme 'file' (only http and https)"),
        ("javascript://x", "unsupported scheme"),
        ("example.com/a b", "a target cannot contain white space"),
        ("example.com\u2003x", "a target cannot contain white space"),
    ],
)
def test_every_rejection(line, reason):
    target = parse_target(line)
    assert target.invalid is not None and reason in target.invalid, target.invalid
    assert target.url == line.strip().replace("\u2003", "\\u2003")


def test_an_invalid_line_with_a_password_names_no_password():
    target = parse_target("https://user:pw@/")
    assert (target.url, target.invalid) == ("https://user:***@/", "no host name")


def test_the_longest_host_name_has_253_characters():
    from healthcrawl.target_parsing import normalise_url

    host = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(host) == 253 and normalise_url(host) == f"https://{host}/"
    with pytest.raises(ValueError, match="not a valid host name"):
        normalise_url(host + "b")
    assert parse_target(host + ".").url == f"https://{host}./"  # the root's dot is not counted
    assert parse_target(host + "b.").invalid is not None


def test_fields_and_request_go_with_the_target_valid_or_not():
    request = {"method": "HEAD"}
    valid = parse_target("example.com", {"team": "a"}, request)
    invalid = parse_target("ftp://example.com", {"team": "b"}, request)
    with_auth = parse_target("https://u:p@example.com", {"team": "c"}, request)
    assert (valid.fields, valid.request) == ({"team": "a"}, request)
    assert (invalid.fields, invalid.request) == ({"team": "b"}, request)
    assert with_auth.fields == {"team": "c"} and with_auth.request == {"method": "HEAD", "auth": ("basic", "u", "p")}
    assert request == {"method": "HEAD"}  # not changed in place
    assert parse_target("example.com").fields == {} and parse_target("example.com").request is None


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://faß.de:81/x?y#z", "http://xn--fa-hia.de:81/x?y#z"),
        ("http://u:p@Bücher.de/", "http://u:p@xn--bcher-kva.de/"),
        ("http://ü.de", "http://xn--tda.de"),
        ("http://XN--FA-HIA.de/", "http://xn--fa-hia.de/"),
        ("http://example.com/ü", "http://example.com/ü"),
        ("http://[::1]:5/", "http://[::1]:5/"),
        ("/relative", "/relative"),
    ],
)
def test_with_ascii_host_maps_only_the_host(url, expected):
    from healthcrawl.target_parsing import with_ascii_host

    assert with_ascii_host(url) == expected


def test_with_ascii_host_refuses_what_idna_refuses():
    from healthcrawl.target_parsing import with_ascii_host

    with pytest.raises(ValueError, match="U\\+200B"):
        with_ascii_host("http://exa\u200bmple.com/")
    with pytest.raises(ValueError, match="not a valid host name"):
        with_ascii_host("http://xn--abc.com/")


@pytest.mark.parametrize(
    "text, safe",
    [
        ("plain", "plain"),
        ("a" * 2048, "a" * 2048),
        ("a" * 2049, "a" * 2048 + "... (cut at 2048 characters)"),
        ("\x00" * 512, "\\x00" * 512),  # 2,048 characters once escaped
        ("\x00" * 513, "\\x00" * 512 + "... (cut at 2048 characters)"),
        ("ü\u200b\udcff\x7f", "ü\\u200b\\udcff\\x7f"),
    ],
)
def test_safe_text_escapes_then_cuts_at_the_maximum(text, safe):
    from healthcrawl.target_parsing import safe_text

    assert safe_text(text) == safe


@pytest.mark.parametrize("surrogate", ["\ud800", "\udbff", "\udc00", "\udfff"])
def test_every_lone_surrogate_is_named_as_one(surrogate):
    target = parse_target(f"exa{surrogate}mple.com")
    assert target.invalid == f"contains an undecodable byte or a lone surrogate ({ascii(surrogate)[1:-1]})"


def test_a_text_far_over_the_maximum_is_cut_once():
    from healthcrawl.target_parsing import safe_text

    assert safe_text("a" * 5000) == "a" * 2048 + "... (cut at 2048 characters)"
    assert safe_text("\x01" * 5000) == "\\x01" * 512 + "... (cut at 2048 characters)"


@pytest.mark.parametrize(
    "url, requested",
    [
        ("https://alice:secret@example.com/x?y", "https://example.com/x?y"),
        ("https://***@example.com:8443/", "https://example.com:8443/"),
        ("https://a@b@example.com/", "https://example.com/"),
        ("https://example.com/a@b", "https://example.com/a@b"),
        ("https://example.com/", "https://example.com/"),
    ],
)
def test_without_userinfo_is_what_is_requested(url, requested):
    from healthcrawl.target_parsing import without_userinfo

    assert without_userinfo(url) == requested


def test_a_character_std3_rules_would_refuse_is_mapped_first_and_the_result_judged():
    target = parse_target("a\u2474.com")  # ⑴ maps to "(1)", which no host name may hold
    assert target.invalid.startswith("'a\u2474.com' is not a valid host name: "), target.invalid
