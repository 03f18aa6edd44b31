"""One request per target: follow redirects, read a bounded body prefix, and snapshot what happened."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin, urlsplit

import gevent
import requests
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.fetching.error_kinds import classify, classify_deadline
from healthcrawl.fetching.request import OutgoingRequest
from healthcrawl.fetching.host_limits import HostLimiter
from healthcrawl.records import Snapshot, Target, Timings
from healthcrawl.fetching.resolver import Resolver, build_resolver
from healthcrawl.fetching.tls_facts import describe_certificate, fetch_unverified_certificate
from healthcrawl.fetching.transport import LINGER_ZERO, PhaseRecorder, Transport, start_recording, stop_recording

READ_CHUNK = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def build_fetcher(
    settings: CrawlSettings, *, pool_size: int, prepare_request: Callable[[OutgoingRequest], None]
) -> "Fetcher":
    """A fetcher for the crawl's settings, with its own resolver and transport (``close()`` it when done).

    Build one per process that fetches, after any fork: it holds sockets and the event loop's resolver.
    """
    resolver = build_resolver(settings.resolver, list(settings.nameservers), settings.timeout)
    transport = Transport(
        resolver,
        linger=settings.linger,
        verify=settings.verify,
        user_agent=settings.user_agent,
        proxy=settings.proxy,
        pool_size=max(pool_size, 10),
    )
    return Fetcher(
        transport,
        resolver,
        timeout=settings.timeout,
        max_body_bytes=settings.max_body_bytes,
        max_redirects=settings.max_redirects,
        linger=settings.linger,
        prepare_request=prepare_request,
        host_limiter=HostLimiter(settings.per_host_concurrency, settings.per_host_delay),
    )


class Fetcher:
    """Fetches targets through one transport; each fetch runs under one hard total deadline."""

    def __init__(
        self,
        transport: Transport,
        resolver: Resolver,
        *,
        timeout: float,
        max_body_bytes: int,
        max_redirects: int,
        linger: bool,
        prepare_request: Callable[[OutgoingRequest], None] = lambda request: None,
        host_limiter: HostLimiter | None = None,
    ):
        self.transport = transport
        self.resolver = resolver
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self.linger = linger
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
        recorder = start_recording()
        state = _FetchState(target=target, final_url=target.url)
        deadline = gevent.Timeout(self.timeout)
        deadline.start()
        try:
            self._follow(target, state)
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            state.error_kind, state.error = classify_deadline(recorder.phase, self.timeout)
        except Exception as error:  # every network failure becomes an error kind
            state.error_kind, state.error = classify(error)
            if state.error_kind == "tls_error":
                self._read_rejected_certificate(state, recorder, deadline)
        finally:
            deadline.close()
            stop_recording()
        return self._snapshot(state, recorder)

    def _follow(self, target: Target, state: "_FetchState") -> None:
        url = target.url
        cookies: RequestsCookieJar | None = None  # set by a hop, sent on the next ones (login redirects)
        while True:
            outgoing = OutgoingRequest(target=target, url=url)
            self.prepare_request(outgoing)
            state.final_url = url = outgoing.url
            response = self.transport.get(
                url,
                headers=outgoing.headers,
                auth=outgoing.auth,
                timeout=(self.timeout, self.timeout),
                normalised=url == target.url,
                cookies=cookies,
            )
            try:
                if "Set-Cookie" in response.headers:
                    cookies = cookies if cookies is not None else RequestsCookieJar()
                    extract_cookies_to_jar(cookies, response.request, response.raw)
                state.ttfb_ms = (time.perf_counter() - state.started) * 1000.0
                location = response.headers.get("Location")
                if response.status_code in REDIRECT_STATUSES and location:
                    if state.redirects >= self.max_redirects:
                        raise requests.TooManyRedirects(
                            f"more than {self.max_redirects} redirects (last Location: {location})"
                        )
                    state.redirects += 1
                    url = urljoin(url, location)
                    continue
                state.status_code = response.status_code
                state.headers = dict(response.headers)
                state.body, state.body_truncated = self._read_body(response)
                return
            finally:
                response.close()

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

    def _read_rejected_certificate(self, state: "_FetchState", recorder: PhaseRecorder, deadline) -> None:
        """After a failed verified handshake, read the certificate through an unverified one."""
        if recorder.peer_cert_der is not None or not state.final_url.startswith("https:"):
            return
        parts = urlsplit(state.final_url)
        options = [LINGER_ZERO] if self.linger else []
        try:
            der, version = fetch_unverified_certificate(
                parts.hostname, parts.port or 443, self.resolver, self.timeout, options
            )
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            return
        except OSError:
            return
        recorder.peer_cert_der, recorder.tls_version, recorder.tls_verified = der, version, False

    def _snapshot(self, state: "_FetchState", recorder: PhaseRecorder) -> Snapshot:
        tls = None
        if recorder.peer_cert_der is not None or state.error_kind == "tls_error":
            tls = describe_certificate(
                recorder.peer_cert_der,
                verified=recorder.tls_verified and state.error_kind != "tls_error",
                version=recorder.tls_version,
            )
        timings = Timings(
            dns_ms=_round(recorder.dns_ms),
            connect_ms=_round(recorder.connect_ms),
            tls_ms=_round(recorder.tls_ms),
            ttfb_ms=_round(state.ttfb_ms),
            total_ms=_round((time.perf_counter() - state.started) * 1000.0),
        )
        return Snapshot(
            target=state.target,
            status_code=state.status_code,
            headers=state.headers,
            body=state.body,
            body_truncated=state.body_truncated,
            final_url=state.final_url,
            redirects=state.redirects,
            tls=tls,
            timings=timings,
            error_kind=state.error_kind,
            error=state.error,
        )


@dataclass
class _FetchState:
    """What one fetch has learned so far."""

    target: Target
    final_url: str
    started: float = field(default_factory=time.perf_counter)
    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_truncated: bool = False
    redirects: int = 0
    ttfb_ms: float | None = None
    error_kind: str | None = None
    error: str | None = None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
