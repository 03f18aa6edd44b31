"""Test setup: gevent's monkey patch first (before anything imports ssl, urllib3 or requests)."""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import pytest  # noqa: E402

pytest_plugins = ["pytester"]

REQUIRE_SERVICES = os.environ.get("HEALTHCRAWL_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("HEALTHCRAWL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("HEALTHCRAWL_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def require_service(name: str, url: str) -> str:
    """Return ``url`` if its server accepts connections; otherwise skip, or fail under
    ``HEALTHCRAWL_REQUIRE_SERVICES=1`` (set by CI, where every service must run)."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError as error:
        message = f"{name} is not reachable at {parts.hostname}:{parts.port} ({error})"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; HEALTHCRAWL_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_url() -> str:
    """URL of the test PostgreSQL database (skips when unreachable, fails in CI)."""
    return require_service("PostgreSQL", POSTGRES_URL)


@pytest.fixture
def mysql_url() -> str:
    """URL of the test MariaDB/MySQL database (skips when unreachable, fails in CI)."""
    return require_service("MariaDB", MYSQL_URL)
