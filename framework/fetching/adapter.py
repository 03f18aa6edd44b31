"""The requests adapter of the transport: every pool it uses, direct or proxied, is built from one ``PoolSettings``.

``PoolSettings`` holds the socket options (``SO_LINGER(1, 0)`` when asked, plus urllib3's
defaults), one SSL context for every TLS connection and the traced connection classes.
``PoolSettingsAdapter`` applies them to requests' PoolManager and to every proxy manager,
takes the pools of direct requests from a ``HostPoolCache`` and builds slim responses.
"""

from __future__ import annotations

import os
import ssl
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import certifi
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connectionpool import HTTPConnectionPool, port_by_scheme
from urllib3.util.ssl_ import create_urllib3_context

from healthcrawl.fetching.urllib3_internals import new_pool


@dataclass(frozen=True)
class PoolSettings:
    """How every connection pool of the transport is built."""

    socket_options: list[tuple[int, int, int | bytes]]
    """Set on every socket before it connects."""
    ssl_context: ssl.SSLContext
    """Shared by every TLS connection: the CA bundle is loaded once, not per connection."""
    pool_classes: dict[str, type[HTTPConnectionPool]]
    """Pool classes by scheme (``http``, ``https``), with the traced connection classes."""

    def pool_kwargs(self) -> dict:
        """What a PoolManager passes to each pool it builds."""
        return {"socket_options": self.socket_options, "ssl_context": self.ssl_context}


class HostPoolCache:
    """The pools of direct requests, the ``size`` most recently used ones, by (scheme, host, port).

    requests asks the PoolManager, which builds and normalises a 15-field key per request;
    a crawl meets a new host on almost every request, so that was a large share of the
    per-target CPU. This is a plain LRU dict; an evicted pool is closed.
    """

    def __init__(self, make_pool: Callable[[str, str, int], HTTPConnectionPool], size: int):
        self._make_pool = make_pool
        self._size = size
        self._pools: OrderedDict[tuple[str, str, int], HTTPConnectionPool] = OrderedDict()

    def get(self, scheme: str, host: str, port: int) -> HTTPConnectionPool:
        """The pool for ``scheme://host:port``, built when there is none."""
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        self._pools[key] = pool = self._make_pool(scheme, host, port)
        if len(self._pools) > self._size:
            self._pools.popitem(last=False)[1].close()
        return pool

    def close(self) -> None:
        """Close and forget every pool."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class PoolSettingsAdapter(HTTPAdapter):
    """A requests adapter whose every pool (direct or through a proxy) is built from ``settings``.

    Direct requests take their pool from a ``HostPoolCache`` of ``pool_connections`` pools;
    proxied requests and unusual URLs take requests' own path. Responses skip what a health
    check never uses: the cookie jar and the encoding guess.
    """

    def __init__(self, settings: PoolSettings, *, pool_connections: int, pool_maxsize: int, max_retries: int):
        self.settings = settings
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=max_retries)
        self.host_pools = HostPoolCache(lambda *key: new_pool(self.poolmanager, *key), pool_connections)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        parts = urlsplit(request.url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if proxies or cert is not None or scheme not in self.settings.pool_classes or not host:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        return self.host_pools.get(scheme, host, parts.port or port_by_scheme[scheme])

    def close(self) -> None:
        """Close every pool: the cached ones and the managers'."""
        self.host_pools.close()
        super().close()

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block, **{**pool_kwargs, **self.settings.pool_kwargs()})
        self.poolmanager.pool_classes_by_scheme = self.settings.pool_classes

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        if proxy in self.proxy_manager:
            return self.proxy_manager[proxy]
        manager = super().proxy_manager_for(proxy, **{**proxy_kwargs, **self.settings.pool_kwargs()})
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = self.settings.pool_classes
        return manager

    def build_response(self, req, resp) -> requests.Response:
        """requests' response, minus the cookie jar and the encoding guess."""
        response = requests.Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        return response

    def cert_verify(self, conn, url, verify, cert):
        """Keep the pool's settings in line with the shared context; never name a CA file per pool."""
        conn.cert_reqs = "CERT_NONE" if verify is False else "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def build_ssl_context(verify: bool | str) -> ssl.SSLContext:
    """The client SSL context: ``False`` verifies nothing, ``True`` trusts certifi's CAs, a path trusts that bundle."""
    if verify is False:
        return create_urllib3_context(cert_reqs=ssl.CERT_NONE)
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    location = certifi.where() if verify is True else verify
    if os.path.isdir(location):
        context.load_verify_locations(capath=location)
    else:
        context.load_verify_locations(cafile=location)
    return context
