"""The ``healthcrawl`` pytest plugin: fixtures for testing healthcrawl plugins against real servers.

Installed with healthcrawl through the ``pytest11`` entry point, so its fixtures are available in
every pytest run of an environment where healthcrawl is installed (``-p no:healthcrawl`` switches
it off). Loading it changes nothing else: it imports no ``ssl``, ``requests`` or test servers and
patches nothing, so other projects' test runs stay as they were.

The fixtures that open sockets (``make_server``, ``http_server``, ``https_server``, ``crawl``) need
``gevent.monkey.patch_all()`` to have run before test modules import ``ssl`` or ``requests``. A
project opts in with the ini option ``healthcrawl_gevent = true``: the plugin then patches in
``pytest_load_initial_conftests``, before any ``conftest.py`` or test module is imported. (Patching
later, when a fixture is first used, would come after those imports: the RecursionError trap.) A
``conftest.py`` that calls ``patch_all()`` before its other imports works too. Without either,
those fixtures fail with a message that says how to opt in.

Fixtures:

- ``http_server`` / ``https_server``: a started loopback server; ``route()`` sets what a path answers.
- ``make_server(tls=..., cert=..., days_left=...)``: more servers, e.g. with an expired certificate.
- ``healthcrawl_ca``: the session's certificate authority, trusted by ``crawl``.
- ``crawl(config)``: run a crawl in-process from a config dict and return the result records.
- ``register_plugin(plugin)``: register a plugin for one test; it is unregistered at teardown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest
from gevent import monkey

if TYPE_CHECKING:
    from healthcrawl.testing.certs import CertAuthority
    from healthcrawl.testing.servers import HTTPTestServer

GEVENT_INI = "healthcrawl_gevent"
"""The ini option that opts a project in to gevent's monkey patch at pytest start-up."""

OPT_IN_HINT = (
    f"set `{GEVENT_INI} = true` under [tool.pytest.ini_options] in pyproject.toml (or [pytest] in pytest.ini; "
    f"`pytest -o {GEVENT_INI}=true` for one run), or call gevent.monkey.patch_all() first thing in conftest.py"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        GEVENT_INI,
        "run gevent.monkey.patch_all() before conftest.py files and test modules are imported "
        "(the healthcrawl fixtures that open sockets need it)",
        type="bool",
        default=False,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Patch for gevent when the project opted in: this hook runs before any conftest.py is imported."""
    if early_config.getini(GEVENT_INI):
        monkey.patch_all()


def require_gevent_patch() -> None:
    """Fail the test with how to opt in unless the standard library is patched for gevent."""
    if not monkey.is_module_patched("socket"):
        pytest.fail(
            "healthcrawl's fixtures make_server, http_server, https_server and crawl need gevent's monkey patch, "
            f"which must run before test modules import ssl or requests: {OPT_IN_HINT}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def healthcrawl_ca() -> Iterator[CertAuthority]:
    """The certificate authority of every TLS server these fixtures start; ``crawl`` trusts it."""
    from healthcrawl.testing.certs import CertAuthority

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
    require_gevent_patch()
    from healthcrawl.testing.certs import CERT_KINDS
    from healthcrawl.testing.servers import HTTPTestServer

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
    ``healthcrawl.testing.run_crawl`` (``base_dir``, ``manager``, ``extra_sinks``).
    """
    require_gevent_patch()
    from healthcrawl.testing.crawl import run_crawl

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
