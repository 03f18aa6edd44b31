"""The ``healthcrawl`` pytest plugin: fixtures for testing healthcrawl plugins against real servers.

Installed with healthcrawl through the ``pytest11`` entry point, so it is active in every pytest
run of an environment where healthcrawl is installed (``-p no:healthcrawl`` switches it off).
Loading it runs ``gevent.monkey.patch_all()``, before any test module imports ``ssl`` or
``requests``: a test run is an application entry point like the ``healthcrawl`` command.

Fixtures:

- ``http_server`` / ``https_server``: a started loopback server; ``route()`` sets what a path answers.
- ``make_server(tls=..., cert=..., days_left=...)``: more servers, e.g. with an expired certificate.
- ``healthcrawl_ca``: the session's certificate authority, trusted by ``crawl``.
- ``crawl(config)``: run a crawl in-process from a config dict and return the result records.
- ``register_plugin(plugin)``: register a plugin for one test; it is unregistered at teardown.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from typing import Any, Callable, Iterator  # noqa: E402

import pytest  # noqa: E402

from healthcrawl.testing.certs import CERT_KINDS, CertAuthority  # noqa: E402
from healthcrawl.testing.crawl import run_crawl  # noqa: E402
from healthcrawl.testing.servers import HTTPTestServer  # noqa: E402


@pytest.fixture(scope="session")
def healthcrawl_ca() -> Iterator[CertAuthority]:
    """The certificate authority of every TLS server these fixtures start; ``crawl`` trusts it."""
    with CertAuthority() as authority:
        yield authority


@pytest.fixture
def make_server(healthcrawl_ca: CertAuthority) -> Iterator[Callable[..., HTTPTestServer]]:
    """Start loopback HTTP(S) servers for one test: ``make_server(tls=False, cert=None, days_left=None)``.

    ``cert`` is one of ``"valid"``, ``"expired"``, ``"untrusted"`` or ``"wrong_host"``, and
    ``days_left=N`` makes the certificate expire in N days; either implies ``tls=True``. Each
    server is a ``HTTPTestServer``: ``server.route(path, status=, body=, headers=, delay=, ...)``
    sets what a path answers and ``server.url(path)`` is its URL. Servers stop at teardown.
    """
    servers: list[HTTPTestServer] = []

    def start(
        tls: bool = False, cert: str | None = None, days_left: float | None = None, bind_all_loopback: bool = False
    ) -> HTTPTestServer:
        if cert is not None and cert not in CERT_KINDS:
            raise ValueError(f"cert must be one of {CERT_KINDS}, not {cert!r}")
        tls = tls or cert is not None or days_left is not None
        options = {"ca": healthcrawl_ca, "tls_kind": cert or "valid", "days_left": days_left} if tls else {}
        server = HTTPTestServer(tls=tls, bind_all_loopback=bind_all_loopback, **options)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def http_server(make_server: Callable[..., HTTPTestServer]) -> HTTPTestServer:
    """A started plain-HTTP loopback server: ``/`` answers 200 ``ok``, unknown paths 404."""
    return make_server()


@pytest.fixture
def https_server(make_server: Callable[..., HTTPTestServer]) -> HTTPTestServer:
    """A started HTTPS loopback server with a valid certificate from ``healthcrawl_ca``."""
    return make_server(tls=True)


@pytest.fixture
def crawl(healthcrawl_ca: CertAuthority) -> Callable[..., list[dict[str, Any]]]:
    """``crawl(config)``: validate a config dict, crawl it in-process and return the result records.

    The config is what a YAML file would hold. Unless ``crawl.verify`` is set, certificates are
    verified against ``healthcrawl_ca``, so the fixtures' valid certificates pass. Plugins that
    ``register_plugin`` registered take part. Keyword arguments go to
    ``healthcrawl.testing.crawl.run_crawl`` (``base_dir``, ``manager``, ``extra_sinks``).
    """

    def run(config: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
        settings = {"verify": healthcrawl_ca.ca_bundle_path, **(config.get("crawl") or {})}
        return run_crawl({**config, "crawl": settings}, **kwargs)

    return run


@pytest.fixture
def register_plugin() -> Iterator[Callable[..., str]]:
    """``register_plugin(plugin, name=None)``: register a plugin object or module for this test only.

    Returns the name it was registered under; every plugin registered this way is unregistered at
    teardown, so the next test sees the plugins it saw before. A plugin that is already registered
    (a module its installed package's entry point loaded) is left as it is.
    """
    from healthcrawl.plugin_system.manager import get_plugin_manager

    manager = get_plugin_manager()
    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        if manager.is_registered(plugin):
            return manager.get_name(plugin)
        registered = manager.register(plugin, name=name)
        if registered is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked by HEALTHCRAWL_DISABLE_PLUGINS")
        names.append(registered)
        return registered

    yield register
    for name in reversed(names):
        manager.unregister(name=name)
