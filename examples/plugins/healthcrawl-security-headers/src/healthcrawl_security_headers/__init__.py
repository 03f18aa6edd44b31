"""healthcrawl-security-headers: a ``security_headers`` check and a ``webhook`` sink.

healthcrawl loads this module through the ``healthcrawl`` entry point in pyproject.toml and calls the
two registration hooks below, exactly as it does for its built-in plugins.
"""

from healthcrawl import hookimpl

from .check import SecurityHeadersCheck
from .webhook import WebhookSink

__version__ = "0.1.0"


@hookimpl
def healthcrawl_register_checks(register):
    register(SecurityHeadersCheck)


@hookimpl
def healthcrawl_register_sinks(register):
    register(WebhookSink)
