"""The offline demo's local servers: healthy and broken HTTP(S) on loopback, started by
``healthcrawl examples run offline-demo`` and stopped when the crawl ends."""

from contextlib import ExitStack

from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.servers import HTTPTestServer, free_port

SLOW_SECONDS = 60  # far beyond the crawl's timeout: the target times out


def start(stack: ExitStack) -> dict[str, str]:
    """Start the servers; return the placeholders that targets.txt and crawl.yaml use."""
    ca = stack.enter_context(CertAuthority())
    http = stack.enter_context(HTTPTestServer())
    http.route("/health", body="healthy")
    http.route("/broken", status=500, body="internal server error")
    http.route("/slow", delay=SLOW_SECONDS, body="healthy, eventually")
    http.route("/old-health", redirect_to="/health")
    https = stack.enter_context(HTTPTestServer(tls=True, ca=ca))
    https.route("/health", body="healthy")
    expired = stack.enter_context(HTTPTestServer(tls=True, ca=ca, tls_kind="expired"))
    expired.route("/health", body="healthy")
    return {
        "DEMO_HTTP": http.base_url,
        "DEMO_HTTPS": https.base_url,
        "DEMO_EXPIRED_HTTPS": expired.base_url,
        "DEMO_REFUSED": f"http://127.0.0.1:{free_port()}",
        "DEMO_CA_BUNDLE": ca.ca_bundle_path,
    }
