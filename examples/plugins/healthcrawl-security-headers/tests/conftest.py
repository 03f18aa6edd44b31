"""gevent's monkey patch must run before anything imports ssl, urllib3 or requests."""

from gevent import monkey

monkey.patch_all()

import pytest  # noqa: E402

from healthcrawl.testing.certs import CertAuthority  # noqa: E402


@pytest.fixture
def ca():
    """A throwaway certificate authority; crawls trust it through ``verify: ca.ca_bundle_path``."""
    with CertAuthority() as authority:
        yield authority
