"""Stand-ins for a company's internal services on loopback, each healthy or not in its own way."""

from contextlib import ExitStack

from healthcrawl.testing.servers import HTTPTestServer

JSON = {"Content-Type": "application/json"}


def start(stack: ExitStack) -> dict[str, str]:
    """Start one server per service; return their addresses."""
    api = stack.enter_context(HTTPTestServer())
    api.route("/health", body='{"status": "ok", "db": "ok"}', headers=JSON)
    auth = stack.enter_context(HTTPTestServer())
    auth.route("/login", status=401, body="sign in first")
    search = stack.enter_context(HTTPTestServer())
    search.route("/status", body='{"status": "degraded", "replicas": 1}', headers=JSON)
    billing = stack.enter_context(HTTPTestServer())
    billing.route("/healthz", status=503, body="upstream payment provider unreachable")
    metrics = stack.enter_context(HTTPTestServer())
    metrics.route("/metrics", body="# TYPE up gauge\nup 1\n")
    return {
        "DEMO_API": api.base_url,
        "DEMO_AUTH": auth.base_url,
        "DEMO_SEARCH": search.base_url,
        "DEMO_BILLING": billing.base_url,
        "DEMO_METRICS": metrics.base_url,
    }
