"""One request per target: follow redirects, read a bounded body prefix, and snapshot what happened."""

from __future__ import annotations

import contextlib
from typing import Callable
from urllib.parse import urljoin, urlsplit

import gevent
import requests
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.fetching.error_kinds import classify, classify_deadline
from healthcrawl.fetching.host_limits import HostLimiter
from healthcrawl.fetching.request import OutgoingRequest
from healthcrawl.fetching.resolver import build_resolver
from healthcrawl.fetching.tls_facts import describe_certificate
from healthcrawl.fetching.trace import FetchTrace, Handshake
from healthcrawl.fetching.transport import Transport
from healthcrawl.records import Snapshot, Target, TlsInfo

READ_CHUNK = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NO_HANDSHAKE = Handshake(peer_cert_der=None, version=None, verified=False)
"""What a TLS error reports when no certificate could be read at all."""


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
    )
    return Fetcher(
        transport,
        timeout=settings.timeout,
        max_body_bytes=settings.max_body_bytes,
        max_redirects=settings.max_redirects,
        prepare_request=prepare_request,
        host_limiter=HostLimiter(settings.per_host_concurrency, settings.per_host_delay),
    )


class Fetcher:
    """Fetches targets through one transport; each fetch runs under one hard total deadline of ``timeout`` seconds."""

    def __init__(
        self,
        transport: Transport,
        *,
        timeout: float,
        max_body_bytes: int,
        max_redirects: int,
        prepare_request: Callable[[OutgoingRequest], None] = lambda request: None,
        host_limiter: HostLimiter | None = None,
    ):
        self.transport = transport
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
        against neither the deadline nor the timings.
        """
        if self.host_limiter is None:
            return self._fetch(target)
        with self.host_limiter.slot(urlsplit(target.url).hostname or ""):
            return self._fetch(target)

    def _fetch(self, target: Target) -> Snapshot:
        trace = FetchTrace()
        sent: list[str] = []  # the URL of each request of the redirect chain, in order
        response: requests.Response | None = None
        body, truncated = b"", False
        error_kind = error = None
        rejected: Handshake | None = None
        deadline = gevent.Timeout(self.timeout)
        deadline.start()
        try:
            response = self._follow(target, trace, sent)
            with contextlib.closing(response):
                body, truncated = self._read_body(response)
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            error_kind, error = classify_deadline(trace.phase, self.timeout)
        except Exception as failure:  # every network failure becomes an error kind
            error_kind, error = classify(failure)
            if error_kind == "tls_error":
                rejected = self._read_rejected_handshake(sent[-1] if sent else target.url, trace, deadline)
        finally:
            deadline.close()
        return Snapshot(
            target=target,
            status_code=None if response is None else response.status_code,
            headers={} if response is None else dict(response.headers),
            body=body,
            body_truncated=truncated,
            final_url=sent[-1] if sent else target.url,
            redirects=max(len(sent) - 1, 0),
            tls=_tls_facts(trace, error_kind, rejected),
            timings=trace.timings(),
            error_kind=error_kind,
            error=error,
        )

    def _follow(self, target: Target, trace: FetchTrace, sent: list[str]) -> requests.Response:
        """Send the requests of the redirect chain, appending each URL to ``sent``; return the last response, unread."""
        url = target.url
        cookies: RequestsCookieJar | None = None  # set by a hop, sent on the next ones (login redirects)
        while True:
            outgoing = OutgoingRequest(target=target, url=url)
            self.prepare_request(outgoing)
            url = outgoing.url
            sent.append(url)
            response = self.transport.get(
                url,
                headers=outgoing.headers,
                auth=outgoing.auth,
                normalised=url == target.url,
                trace=trace,
                cookies=cookies,
            )
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            with contextlib.closing(response):
                if "Set-Cookie" in response.headers:
                    cookies = cookies if cookies is not None else RequestsCookieJar()
                    extract_cookies_to_jar(cookies, response.request, response.raw)
                if len(sent) > self.max_redirects:
                    raise requests.TooManyRedirects(
                        f"more than {self.max_redirects} redirects (last Location: {location})"
                    )
                url = urljoin(url, location)

    def _read_body(self, response: requests.Response) -> tuple[bytes, bool]:
        """Read at most ``max_body_bytes`` decoded bytes; report whether more was left unread."""
        limit = self.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = response.raw.read(min(READ_CHUNK, limit + 1 - size), decode_content=True)
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            size += len(chunk)
        body = b"".join(chunks)
        return body[:limit], True

    def _read_rejected_handshake(self, url: str, trace: FetchTrace, deadline: gevent.Timeout) -> Handshake | None:
        """After a failed verified handshake, what an unverified one with ``url``'s server reads.

        ``None`` when there is nothing to read: the trace holds a handshake already, the URL
        is not HTTPS, or the fetch's deadline ran out.
        """
        if trace.handshake is not None or not url.startswith("https:"):
            return None
        try:
            return self.transport.read_unverified_handshake(url)
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            return None


def _tls_facts(trace: FetchTrace, error_kind: str | None, rejected: Handshake | None) -> TlsInfo | None:
    """The certificate facts of a fetch: after a TLS error the rejected certificate's (never verified), else the traced one's."""
    failed = error_kind == "tls_error"
    handshake = rejected or trace.handshake or (NO_HANDSHAKE if failed else None)
    if handshake is None:
        return None
    return describe_certificate(
        handshake.peer_cert_der, verified=handshake.verified and not failed, version=handshake.version
    )
