"""HTTPS servers on loopback whose certificates expire at different times, for the TLS expiry audit."""

from contextlib import ExitStack

from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.servers import HTTPTestServer

DAYS_LEFT = {"DEMO_CERT_1_YEAR": 365, "DEMO_CERT_90_DAYS": 90, "DEMO_CERT_21_DAYS": 21, "DEMO_CERT_3_DAYS": 3}
EXPIRED_DAYS_AGO = 10


def start(stack: ExitStack) -> dict[str, str]:
    """Start one HTTPS server per certificate; return their addresses and the CA bundle's path."""
    ca = stack.enter_context(CertAuthority())
    values = {"DEMO_CA_BUNDLE": ca.ca_bundle_path}
    for name, days in DAYS_LEFT.items():
        values[name] = stack.enter_context(HTTPTestServer(tls=True, ca=ca, days_left=days)).base_url
    expired = HTTPTestServer(tls=True, ca=ca, tls_kind="expired", days_left=-EXPIRED_DAYS_AGO)
    values["DEMO_CERT_EXPIRED"] = stack.enter_context(expired).base_url
    return values
