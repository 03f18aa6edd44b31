"""Fuzzing target parsing: any text is a Target (valid or not), never an exception; a valid one round-trips;
an invalid one is stored in a safe form. Any bytes in a target file give at most one Target per line."""

import io
import string
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from healthcrawl import Target, parse_target
from healthcrawl.target_lines import MAX_LINE_LENGTH, read_lines
from healthcrawl.target_parsing import MAX_TARGET_LENGTH

LABEL_CHARS = string.ascii_letters + string.digits + "-_" + "ßüéΩ\u200b\u200c\u200d\u00adⓔ。١"
labels = st.text(LABEL_CHARS, min_size=0, max_size=70)
hosts = st.one_of(
    st.lists(labels, min_size=1, max_size=5).map(".".join),
    st.ip_addresses().map(lambda a: f"[{a}]" if a.version == 6 else str(a)),
    st.text(max_size=30),
)
url_like = st.builds(
    lambda scheme, userinfo, host, port, path: f"{scheme}{userinfo}{host}{port}{path}",
    st.sampled_from(["", "http://", "https://", "HTTPS://", "ftp://", "://", "http:/"]),
    st.sampled_from(["", "user@", "user:pw@", ":pw@", "TOKEN@", "a@b:c@", "u:p@ss@"]),
    hosts,
    st.one_of(st.just(""), st.integers(-1, 70000).map(lambda p: f":{p}"), st.text(max_size=6).map(lambda p: f":{p}")),
    st.one_of(st.just(""), st.text(max_size=20).map(lambda p: f"/{p}")),
)
lines = st.one_of(st.text(), url_like, st.text(min_size=MAX_TARGET_LENGTH - 2, max_size=MAX_TARGET_LENGTH + 2))


def assert_safe(target: Target) -> None:
    target.url.encode("utf-8")  # storable: no lone surrogate
    assert "\x00" not in target.url and len(target.url) <= MAX_TARGET_LENGTH + len("... (cut at 2048 characters)")


@given(lines)
def test_any_line_is_a_target_and_a_valid_one_round_trips(line):
    target = parse_target(line)
    assert isinstance(target, Target)
    assert_safe(target)
    if target.invalid is None:
        again = parse_target(target.url)
        assert (again.url, again.invalid) == (target.url, None)
        assert urlsplit(target.url).hostname.isascii() and target.url.startswith(("http://", "https://"))
    else:
        assert target.invalid and target.invalid.isprintable()


@given(st.lists(st.one_of(st.binary(max_size=40), lines.map(lambda text: text.encode("utf-8", "surrogatepass")))))
def test_any_bytes_in_a_target_file_give_at_most_one_target_per_line(chunks):
    data = b"\n".join(chunks)
    file = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    count = 0
    for line in read_lines(file, "fuzz.txt"):
        count += 1
        target = line if isinstance(line, Target) else parse_target(line)
        assert_safe(target)
        if isinstance(line, str):
            assert len(line) <= MAX_LINE_LENGTH + 1
    assert count <= data.count(b"\n") + data.count(b"\r") + 1
