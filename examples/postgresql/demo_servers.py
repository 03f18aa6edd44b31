"""A local service with a healthy and a failing endpoint, so that the PostgreSQL example runs offline."""

from contextlib import ExitStack

from healthcrawl.testing.servers import HTTPTestServer


def start(stack: ExitStack) -> dict[str, str]:
    """Start one HTTP server; return its address."""
    server = stack.enter_context(HTTPTestServer())
    server.route("/health", body='{"status": "healthy"}', headers={"Content-Type": "application/json"})
    server.route("/ready", status=503, body='{"status": "starting"}', headers={"Content-Type": "application/json"})
    return {"DEMO_SERVICE": server.base_url}
