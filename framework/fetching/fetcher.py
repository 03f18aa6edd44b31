"""One request per target: follow redirects, read a bounded body prefix, and snapshot what happened."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar
from urllib.parse import urljoin, urlsplit

import gevent
import requests
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict

from healthcrawl.configuration.request_spec import RequestSpec, target_overrides
from healthcrawl.configuration.retries import RetrySettings
from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.fetching.error_kinds import (
    EMPTY_REPLY,
    HTTP2_ONLY_CLOSED,
    ProtocolViolation,
    classify,
    classify_deadline,
    excerpt,
)
from healthcrawl.fetching.host_limits import HostLimiter
from healthcrawl.fetching.network_policy import NetworkPolicy
from healthcrawl.fetching.request import OutgoingRequest
from healthcrawl.fetching.resolver import build_resolver
from healthcrawl.fetching.tls_facts import describe_certificate
from healthcrawl.fetching.trace import FetchTrace, Handshake
from healthcrawl.fetching.transport import Transport
from healthcrawl.records import Snapshot, Target, TlsInfo
from healthcrawl.target_parsing import mask_credentials, with_ascii_host, without_userinfo

READ_CHUNK = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NO_HANDSHAKE = Handshake(peer_cert_der=None, version=None, verified=False)
"""What a TLS error reports when no certificate could be read at all."""
DEFAULT_PORTS = {"http": 80, "https": 443}
_OBS_FOLD = re.compile(r"\r?\n[ \t]+")
"""A line folded inside a header value (RFC 9112, section 5.2), as the header parser leaves it."""
T = TypeVar("T")


@dataclass
class _Chain:
    """The requests of one fetch's redirect chain: their URLs, and whether credentials still go with them."""

    urls: list[str] = field(default_factory=list)
    credentials_carried: bool = True


def build_fetcher(
    settings: CrawlSettings, *, pool_size: int, prepare_request: Callable[[OutgoingRequest], None]
) -> "Fetcher":
    """A fetcher for the crawl's settings, with its own resolver and transport (``close()`` it when done).

    Build one per process that fetches, after any fork: it holds sockets and the event loop's resolver.
    """
    transport = Transport(
        build_resolver(settings.resolver, list(settings.nameservers), settings.timeout),
        linger=settings.linger,
        verify=settings.verify,
        user_agent=settings.user_agent,
        proxy=settings.proxy,
        pool_size=max(pool_size, 10),
        timeout=settings.timeout,
        network_policy=NetworkPolicy.from_settings(settings.deny_networks, settings.allow_networks),
    )
    return Fetcher(
        transport,
        timeout=settings.timeout,
        max_body_bytes=settings.max_body_bytes,
        max_redirects=settings.max_redirects,
        prepare_request=prepare_request,
        host_limiter=HostLimiter(settings.per_host_concurrency, settings.per_host_delay),
        request=settings.request,
        retries=settings.retries,
    )


class Fetcher:
    """Fetches targets through one transport; each fetch runs under one hard total deadline of ``timeout`` seconds.

    What is sent is ``request`` as the target overrides it (``Target.request``, then its
    fields); credentials (basic or bearer auth, an ``Authorization`` header) never follow a
    redirect to another host. Transient failures are fetched again as ``retries`` says.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        timeout: float,
        max_body_bytes: int,
        max_redirects: int,
        prepare_request: Callable[[OutgoingRequest], None] = lambda request: None,
        host_limiter: HostLimiter | None = None,
        request: RequestSpec = RequestSpec(),
        retries: RetrySettings = RetrySettings(),
    ):
        self.transport = transport
        self.request = request
        self.retries = retries
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self.prepare_request = prepare_request
        self.host_limiter = host_limiter if host_limiter is not None and host_limiter.active else None

    def close(self) -> None:
        """Close every pooled connection."""
        self.transport.close()

    def fetch(self, target: Target) -> Snapshot:
        """Fetch ``target`` and describe the outcome; never raises for network trouble.

        With per-host limits, waiting for the host's turn comes first and counts
        against neither the deadline nor the timings; retries of the target keep its turn.
        A target whose own request fields are unusable gives ``invalid_target``.
        """
        try:
            spec = self._request_for(target)
        except ValueError as reason:
            return Snapshot(target=target, error_kind="invalid_target", error=f"request field {reason}")
        if self.host_limiter is None:
            return self._fetch_with_retries(target, spec, None)
        host = urlsplit(target.url).hostname or ""
        with self.host_limiter.slot(host):
            return self._fetch_with_retries(target, spec, host)

    def _request_for(self, target: Target) -> RequestSpec:
        """The crawl's request spec with the target's overrides: its source's (and URL's), then its own fields'."""
        spec = self.request
        if target.request:
            spec = spec.overridden(target.request)
        if target.fields:
            spec = spec.overridden(target_overrides(target.fields))
        return spec

    def _fetch_with_retries(self, target: Target, spec: RequestSpec, host: str | None) -> Snapshot:
        """Fetch, and fetch again while the outcome is transient and attempts (and, by default, the deadline) last.

        Before each retry: the backoff, then the host's turn (``per_host_delay`` between starts).
        """
        retries = self.retries
        started = time.monotonic()
        snapshot = self._fetch(target, spec, self.timeout)
        attempt = 1
        while attempt < retries.attempts and retries.is_transient(snapshot.error_kind, snapshot.status_code):
            wait = retries.wait_before(attempt + 1)
            if retries.within_deadline and time.monotonic() - started + wait >= self.timeout:
                break
            gevent.sleep(wait)
            if host is not None:
                self.host_limiter.wait_for_turn(host)
            seconds = self.timeout
            if retries.within_deadline:
                seconds -= time.monotonic() - started
                if seconds <= 0:
                    break
            attempt += 1
            snapshot = self._fetch(target, spec, seconds)
        return snapshot if attempt == 1 else dataclasses.replace(snapshot, attempts=attempt)

    def _fetch(self, target: Target, spec: RequestSpec, seconds: float) -> Snapshot:
        """One attempt: the redirect chain and the body, under a deadline of ``seconds``."""
        trace = FetchTrace()
        chain = _Chain()
        response: requests.Response | None = None
        body, truncated = b"", False
        arrived: list[bytes] = []  # body chunks as they arrive: kept when the deadline cuts the body short
        error_kind = error = None
        rejected: Handshake | None = None
        url = without_userinfo(target.url) if "@" in target.url else target.url
        deadline = gevent.Timeout(seconds)
        deadline.start()
        try:
            response = self._follow(target, url, spec, trace, chain)
            with contextlib.closing(response):
                body, truncated = self._read_body(response, arrived)
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            error_kind, error = classify_deadline(trace.phase, self.timeout)
            body = b"".join(arrived)[: self.max_body_bytes]
        except Exception as failure:  # every network failure becomes an error kind
            error_kind, error = classify(failure)
            error = mask_credentials(error)
            last_url = chain.urls[-1] if chain.urls else url
            if error_kind == "tls_error" and trace.handshake is None and last_url.startswith("https:"):
                rejected = self._probe(lambda: self.transport.read_unverified_handshake(last_url), deadline)
            elif error == EMPTY_REPLY and last_url.startswith("http:"):
                if self._probe(lambda: self.transport.answers_http2_preface(last_url), deadline):
                    error = HTTP2_ONLY_CLOSED
        finally:
            deadline.close()
        return Snapshot(
            target=target,
            status_code=None if response is None else response.status_code,
            headers=CaseInsensitiveDict() if response is None else response.headers,
            body=body,
            body_truncated=truncated,
            final_url=_shown_final_url(target.url, url, chain),
            redirects=max(len(chain.urls) - 1, 0),
            tls=_tls_facts(trace, error_kind, rejected),
            timings=trace.timings(),
            error_kind=error_kind,
            error=error,
        )

    def _follow(self, target: Target, url: str, spec: RequestSpec, trace: FetchTrace, chain: _Chain) -> requests.Response:
        """Send the requests of the redirect chain from ``url``, noting each in ``chain``; return the last response, unread.

        With ``follow_redirects`` off, the first response is the last. A 303 (and a 301 or 302
        answering a POST) turns the next request into a body-less GET, as browsers do.
        """
        first_url = url
        method, body = spec.method, spec.body
        headers = spec.request_headers()
        client_cert = (spec.client_cert, spec.client_key) if spec.client_cert else None
        cookies: RequestsCookieJar | None = None  # set by a hop, sent on the next ones (login redirects)
        while True:
            carried = chain.credentials_carried
            outgoing = OutgoingRequest(
                target=target,
                url=url,
                headers=dict(headers) if carried else _without_authorization(headers),
                auth=spec.basic_auth if carried else None,
                method=method,
                body=body,
            )
            self.prepare_request(outgoing)
            url = outgoing.url
            chain.urls.append(url)
            response = self.transport.send(
                url,
                headers=outgoing.headers,
                auth=outgoing.auth,
                normalised=url == first_url,
                trace=trace,
                method=outgoing.method,
                body=outgoing.body,
                cookies=cookies,
                client_cert=client_cert,
            )
            location = response.headers.get("Location")
            if not spec.follow_redirects or response.status_code not in REDIRECT_STATUSES or not location:
                return response
            with contextlib.closing(response):
                if "Set-Cookie" in response.headers:
                    cookies = cookies if cookies is not None else RequestsCookieJar()
                    extract_cookies_to_jar(cookies, response.request, response.raw)
                if len(chain.urls) > self.max_redirects:
                    raise requests.TooManyRedirects(
                        f"more than {self.max_redirects} redirects (last Location: {location})"
                    )
                next_url = redirect_target(url, location)
                if carried and _leaves_origin(url, next_url):
                    chain.credentials_carried = False
                status = response.status_code
                if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
                url = next_url

    def _read_body(self, response: requests.Response, chunks: list[bytes]) -> tuple[bytes, bool]:
        """Read at most ``max_body_bytes`` decoded bytes into ``chunks`` as they arrive; return the body and
        whether more was left unread. ``read1`` hands over what has arrived instead of waiting for a full
        chunk, so a body that drips until the deadline still shows the bytes that came."""
        limit = self.max_body_bytes
        size = 0
        while size <= limit:
            chunk = response.raw.read1(min(READ_CHUNK, limit + 1 - size), decode_content=True)
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            size += len(chunk)
        body = b"".join(chunks)
        return body[:limit], True

    def _probe(self, probe: Callable[[], T], deadline: gevent.Timeout) -> T | None:
        """Run a follow-up probe of a failed fetch (it runs under the fetch's deadline); ``None`` when that ran out.

        After a TLS error, an unverified handshake reads the rejected certificate; after an
        empty reply, the HTTP/2 preface tells an HTTP/2-only server from a dropped request.
        """
        try:
            return probe()
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            return None


def redirect_target(url: str, location: str) -> str:
    """The URL a redirect from ``url`` with this ``Location`` leads to, as it will be requested.

    Its host name is mapped as a target's is (``with_ascii_host``). A folded value is unfolded
    (each fold becomes a space, RFC 9112, section 5.2) and, like any space or non-ASCII character,
    percent-encoded as requests sends it, so ``final_url`` is the URL that was requested. Raises ``ProtocolViolation`` for a scheme other than http(s)
    (``file:``, ``javascript:``, ``data:``, ``ftp:``) or a URL that cannot be requested (no host,
    a broken IPv6 literal, a host name IDNA refuses).
    """
    try:
        joined = urljoin(url, _OBS_FOLD.sub(" ", location).strip(" \t"))
        scheme = urlsplit(joined).scheme.lower()
        if scheme in DEFAULT_PORTS:
            prepared = requests.PreparedRequest()
            prepared.prepare_url(with_ascii_host(joined), None)
            return prepared.url
    except (ValueError, requests.exceptions.RequestException) as error:  # requests' InvalidURL is both
        reason = f"a URL that cannot be requested: {error}"
    else:
        reason = f"unsupported scheme {excerpt(scheme)}"
    # Raised here, outside the except block: an InvalidURL in the chain would read as invalid_target.
    raise ProtocolViolation(f"redirect to {reason} (Location: {excerpt(location)})")


def _leaves_origin(old_url: str, new_url: str) -> bool:
    """Whether a redirect from ``old_url`` to ``new_url`` must drop credentials (requests' rule).

    They stay on the same host, scheme and port, and on an upgrade from http to https on the default ports.
    """
    old, new = urlsplit(old_url), urlsplit(new_url)
    if old.hostname != new.hostname:
        return True
    if old.scheme == "http" and new.scheme == "https" and old.port in (80, None) and new.port in (443, None):
        return False
    old_port = old.port or DEFAULT_PORTS.get(old.scheme)
    new_port = new.port or DEFAULT_PORTS.get(new.scheme)
    return old.scheme != new.scheme or old_port != new_port


def _without_authorization(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() != "authorization"}


def _shown_final_url(target_url: str, first_url: str, chain: _Chain) -> str:
    """The URL of the last request, with the target's masked ``user:***@`` when the credentials went with it."""
    final = chain.urls[-1] if chain.urls else first_url
    if target_url is first_url or not chain.credentials_carried:
        return final
    userinfo = urlsplit(target_url).netloc.rpartition("@")[0]
    parts = urlsplit(final)
    return parts._replace(netloc=f"{userinfo}@{parts.netloc}").geturl()


def _tls_facts(trace: FetchTrace, error_kind: str | None, rejected: Handshake | None) -> TlsInfo | None:
    """The certificate facts of a fetch: after a TLS error the rejected certificate's (never verified), else the traced one's.

    A traced handshake is one that completed, so its ``verified`` stands even when the server
    refused the connection afterwards (TLS 1.3 asks for a client certificate after the handshake).
    """
    handshake = rejected or trace.handshake or (NO_HANDSHAKE if error_kind == "tls_error" else None)
    if handshake is None:
        return None
    return describe_certificate(handshake.peer_cert_der, verified=handshake.verified, version=handshake.version)
