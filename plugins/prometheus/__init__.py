"""The built-in ``prometheus`` plugin: a sink that writes a run's results as Prometheus metrics.

``prometheus_client`` (``pip install 'healthcrawl[prometheus]'``) is imported only when a
config uses the sink.
"""

from healthcrawl import hookimpl
from healthcrawl.plugins.prometheus.sink import PrometheusSink


@hookimpl
def healthcrawl_register_sinks(register):
    register(PrometheusSink)
