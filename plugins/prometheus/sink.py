"""The ``prometheus`` sink: the run's metrics as a node_exporter textfile and/or pushed to a Pushgateway.

Runs in the parent process, like every sink. Results are counted as they arrive; the file is
written (atomically: a temporary file renamed over it) and the push made once, when the run ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, validates, validates_schema

from healthcrawl import ConfigError, Result, RunInfo, Sink, Summary, bounded_number

INSTALL_HINT = "pip install 'healthcrawl[prometheus]'"


class PrometheusSinkOptions(Schema):
    textfile = fields.String(
        load_default=None,
        metadata={"description": "node_exporter textfile to replace at the end of the run; must end in .prom "
                                 "(relative to the working directory)."},
    )
    pushgateway = fields.String(
        load_default=None,
        metadata={"description": "Pushgateway URL to push the metrics to at the end of the run, e.g. http://127.0.0.1:9091."},
    )
    job = fields.String(load_default="healthcrawl", metadata={"description": "The Pushgateway job the metrics are pushed as."})
    aggregate_only = fields.Boolean(
        load_default=False,
        metadata={"description": "Write only run totals and histograms, no series per target (for very large crawls)."},
    )
    push_timeout = bounded_number(
        0.1, 3600, load_default=30.0, metadata={"description": "Seconds to wait for the Pushgateway."},
    )

    @validates("textfile")
    def _prom_suffix(self, value: str | None, **_: Any) -> None:
        if value is not None and not value.endswith(".prom"):
            raise ValidationError("must end in .prom: node_exporter's textfile collector reads only those")

    @validates("pushgateway")
    def _http_url(self, value: str | None, **_: Any) -> None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValidationError("must be an http:// or https:// URL")

    @validates_schema
    def _somewhere(self, data: dict, **_: Any) -> None:
        if data.get("textfile") is None and data.get("pushgateway") is None:
            raise ValidationError("give textfile, pushgateway or both")


class PrometheusSink(Sink):
    """Blackbox_exporter-style metrics per target plus run totals (``aggregate_only``: the totals alone)."""

    type_name = "prometheus"
    Options = PrometheusSinkOptions

    def __init__(self, options: Any = None, context=None):
        super().__init__(options, context)
        try:
            from healthcrawl.plugins.prometheus.metrics import RunMetrics
        except ModuleNotFoundError as missing:
            if (missing.name or "").split(".")[0] != "prometheus_client":
                raise
            raise ConfigError([f"the prometheus sink needs prometheus_client: {INSTALL_HINT}"]) from None
        self.metrics = RunMetrics(per_target=not self.options.get("aggregate_only", False))

    @classmethod
    def from_config(cls, options: Any, context) -> "PrometheusSink":
        textfile = options["textfile"]
        if textfile is not None and not Path(textfile).resolve().parent.is_dir():
            raise ConfigError([f"prometheus sink: the folder of textfile {textfile!r} does not exist"])
        return cls(options, context)

    def write(self, results: list[Result]) -> None:
        self.metrics.add(results)

    def close(self, run: RunInfo, summary: Summary, state: str) -> None:
        from prometheus_client import CollectorRegistry, push_to_gateway, write_to_textfile

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.metrics)
        if self.options.get("textfile"):
            write_to_textfile(self.options["textfile"], registry)
        if self.options.get("pushgateway"):
            push_to_gateway(self.options["pushgateway"], job=self.options["job"], registry=registry,
                            timeout=self.options["push_timeout"])
