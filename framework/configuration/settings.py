"""The ``crawl`` section of a config: ``CrawlSettings`` and the schema that validates it.

Each setting's default is written once, on the dataclass; the schema reads it from there.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from dataclasses import dataclass, field

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from healthcrawl import __version__
from healthcrawl.configuration.request_spec import RequestSpec, RequestSpecField
from healthcrawl.configuration.retries import RetrySettings, RetrySettingsSchema
from healthcrawl.fetching.resolver import RESOLVERS, split_nameserver
from healthcrawl.target_parsing import mask_credentials


def at_least(minimum: float) -> validate.Range:
    """A ``Range`` validator whose message reads ``must be at least N``."""
    return validate.Range(min=minimum, error="must be at least {min}")


class VerifyField(fields.Field):
    """``true``, ``false`` or the path of a CA bundle file."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):  # e.g. from ${VERIFY:-true}
            return value.lower() == "true"
        if isinstance(value, str) and value:
            if not os.path.exists(value):
                raise ValidationError(f"no CA bundle at {value}")
            return value
        raise ValidationError("must be true, false or the path of a CA bundle")


@dataclass(frozen=True)
class DistributedSettings:
    """The ``crawl.distributed`` section: crawling on Celery workers through a RabbitMQ broker.

    Every field's default is the setting's default; without a ``broker`` the crawl runs on this machine.
    """

    broker: str | None = None
    chunk_size: int = 200
    chunk_deadline: float = 600.0
    max_enqueued_chunks: int = 500
    max_attempts: int = 3
    host_shards: int = 256


def default_workers() -> int:
    """``crawl.workers`` when not set: the number of CPUs."""
    return os.cpu_count() or 1


@dataclass(frozen=True)
class CrawlSettings:
    """The ``crawl`` section: how targets are fetched. Every field's default is the setting's default."""

    concurrency: int = 256
    timeout: float = 10.0
    linger: bool = True
    verify: bool | str = True
    max_body_bytes: int = 1_048_576
    max_redirects: int = 10
    user_agent: str = f"healthcrawl/{__version__}"
    proxy: str | None = None
    nameservers: tuple[str, ...] = ()
    resolver: str = "thread"
    per_host_concurrency: int | None = None
    per_host_delay: float = 0.0
    batch_size: int = 500
    workers: int = field(default_factory=default_workers)
    request: RequestSpec = RequestSpec()
    retries: RetrySettings = RetrySettings()
    distributed: DistributedSettings = field(default_factory=DistributedSettings)

    def to_record(self) -> dict:
        """The settings as JSON-ready data, secrets masked: what a sink may store with a run."""
        record = {spec.name: getattr(self, spec.name) for spec in dataclasses.fields(self)}
        record.update(
            proxy=self.proxy and mask_credentials(self.proxy),
            nameservers=list(self.nameservers),
            request=self.request.to_record(),
            retries=dataclasses.asdict(self.retries),
            distributed={
                **dataclasses.asdict(self.distributed),
                "broker": self.distributed.broker and mask_credentials(self.distributed.broker),
            },
        )
        record["retries"]["on_error_kinds"] = list(self.retries.on_error_kinds)
        record["retries"]["on_status"] = list(self.retries.on_status)
        return record


def _default(name: str, settings: type = CrawlSettings):
    """The default of setting ``name``, as marshmallow's ``load_default`` wants it (a callable for factories)."""
    spec = settings.__dataclass_fields__[name]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory
    return list(spec.default) if isinstance(spec.default, tuple) else spec.default


class DistributedSettingsSchema(Schema):
    """Schema of the ``crawl.distributed`` section."""

    class Meta:
        unknown = RAISE

    broker = fields.String(
        load_default=_default("broker", DistributedSettings),
        allow_none=True,
        metadata={"description": "amqp:// URL of the RabbitMQ broker; when set, Celery workers crawl (credentials are never printed)."},
    )
    chunk_size = fields.Integer(
        load_default=_default("chunk_size", DistributedSettings), validate=at_least(1),
        metadata={"description": "Targets per task sent to a worker."},
    )
    chunk_deadline = fields.Float(
        load_default=_default("chunk_deadline", DistributedSettings),
        validate=validate.Range(min=0, min_inclusive=False, error="must be more than 0"),
        metadata={"description": "Seconds a worker spends on one chunk at most; keep it below RabbitMQ's consumer_timeout."},
    )
    max_enqueued_chunks = fields.Integer(
        load_default=_default("max_enqueued_chunks", DistributedSettings), validate=at_least(1),
        metadata={"description": "Chunks sent and not yet answered at most (back-pressure on the coordinator)."},
    )
    max_attempts = fields.Integer(
        load_default=_default("max_attempts", DistributedSettings), validate=at_least(1),
        metadata={"description": "Times a chunk is sent before its missing targets are recorded as internal_error."},
    )
    host_shards = fields.Integer(
        load_default=_default("host_shards", DistributedSettings), validate=at_least(1),
        metadata={"description": (
            "Queues the hosts are spread over when per_host_concurrency or per_host_delay is set; each is "
            "consumed by one worker process at a time. Workers must run with the same --host-shards."
        )},
    )

    @validates_schema
    def broker_is_rabbitmq(self, data: dict, **kwargs) -> None:
        broker = data.get("broker")
        if broker is None:
            return
        scheme = broker.partition("://")[0].lower()
        if scheme in ("redis", "rediss"):
            raise ValidationError(
                f"{mask_credentials(broker)}: a Redis broker does not redeliver a dead worker's chunks in time; "
                "use RabbitMQ (amqp://)", "broker",
            )
        if scheme not in ("amqp", "amqps", "pyamqp"):
            raise ValidationError(f"{mask_credentials(broker)}: must be an amqp:// or amqps:// URL", "broker")
        if importlib.util.find_spec("celery") is None:
            raise ValidationError("a distributed crawl needs Celery: pip install 'healthcrawl[distributed]'", "broker")

    @post_load
    def make_settings(self, data: dict, **kwargs) -> DistributedSettings:
        return DistributedSettings(**data)


class CrawlSettingsSchema(Schema):
    """Schema of the ``crawl`` section."""

    class Meta:
        unknown = RAISE

    concurrency = fields.Integer(
        load_default=_default("concurrency"), validate=at_least(1),
        metadata={"description": "Greenlets in the pool: targets fetched at once."},
    )
    timeout = fields.Float(
        load_default=_default("timeout"),
        validate=validate.Range(min=0, min_inclusive=False, error="must be more than 0"),
        metadata={"description": "Seconds: one hard deadline per target (DNS, connect, TLS, headers, body, all redirects)."},
    )
    linger = fields.Boolean(
        load_default=_default("linger"),
        metadata={"description": "Set SO_LINGER(0) on every socket, so closing sends RST and leaves no TIME_WAIT."},
    )
    verify = VerifyField(
        load_default=_default("verify"),
        metadata={"description": "Verify TLS certificates; with a path, against the CA certificates in that file."},
    )
    max_body_bytes = fields.Integer(
        load_default=_default("max_body_bytes"),
        validate=at_least(0),
        metadata={"description": "Body bytes read for checks (after decompression); the rest is never read."},
    )
    max_redirects = fields.Integer(
        load_default=_default("max_redirects"), validate=at_least(0),
        metadata={"description": "Redirects followed before too_many_redirects."},
    )
    user_agent = fields.String(
        load_default=_default("user_agent"), metadata={"description": "User-Agent header of every request."}
    )
    proxy = fields.String(
        load_default=_default("proxy"),
        allow_none=True,
        validate=validate.Regexp(r"^(https?|socks5h?|socks4a?)://", error="must be an http, https or socks URL"),
        metadata={"description": "An http(s):// or socks5(h)://, socks4(a):// proxy URL for every request (socks needs the socks extra)."},
    )
    nameservers = fields.List(
        fields.String(),
        load_default=_default("nameservers"),
        metadata={"description": '"ip[:port]" nameservers to resolve with instead of the system resolver.'},
    )
    resolver = fields.String(
        load_default=_default("resolver"),
        validate=validate.OneOf(RESOLVERS, error="must be one of: {choices}"),
        metadata={
            "description": "How names are resolved (cached for the run): thread (getaddrinfo in gevent's thread pool; "
            "with nameservers, a stub resolver asking them) or ares (c-ares, any number of lookups at once)."
        },
    )
    per_host_concurrency = fields.Integer(
        load_default=_default("per_host_concurrency"),
        allow_none=True,
        validate=at_least(1),
        metadata={"description": "At most this many targets of one host in flight at once (default: no limit)."},
    )
    per_host_delay = fields.Float(
        load_default=_default("per_host_delay"),
        validate=at_least(0),
        metadata={"description": "Seconds between the starts of two targets of one host (default 0)."},
    )
    batch_size = fields.Integer(
        load_default=_default("batch_size"), validate=at_least(1),
        metadata={"description": "Results per batch handed to the sinks."},
    )
    workers = fields.Integer(
        load_default=_default("workers"),
        validate=at_least(1),
        metadata={
            "default_text": "the number of CPUs",
            "description": "Processes that fetch, each with its own gevent pool (default: the number of CPUs); "
            "concurrency is shared out among them."
        },
    )
    distributed = fields.Nested(
        DistributedSettingsSchema,
        load_default=_default("distributed"),
        metadata={
            "description": "Crawl on Celery workers through RabbitMQ (see the distributed crawls page); "
            "without a broker the crawl runs on this machine.",
            "default_text": "{}",
        },
    )

    request = RequestSpecField(
        load_default=dict,
        metadata={"description": "The request sent for each target (method, headers, body, auth, client certificate, "
                  "follow_redirects); sources and targets override parts of it (see Requests, checks and retries)."},
    )
    retries = fields.Nested(
        RetrySettingsSchema,
        load_default=_default("retries"),
        metadata={"default_text": "no retry", "description": "Retry transient failures: attempts, on_error_kinds, on_status, backoff, within_deadline."},
    )

    @validates_schema
    def nameservers_are_addresses(self, data: dict, **kwargs) -> None:
        ports, bad = set(), {}
        for index, spec in enumerate(data.get("nameservers") or ()):
            try:
                ports.add(split_nameserver(spec)[1])
            except ValueError:
                bad[index] = [f"{spec!r} is not an \"ip\" or \"ip:port\" nameserver"]
        if bad:  # every bad item, each at its index
            raise ValidationError({"nameservers": bad})
        if data.get("resolver") == "ares" and len(ports) > 1:
            raise ValidationError("with resolver ares, every nameserver must use the same port", "nameservers")

    @validates_schema
    def socks_support_is_installed(self, data: dict, **kwargs) -> None:
        proxy = data.get("proxy") or ""
        if proxy.startswith("socks") and importlib.util.find_spec("socks") is None:
            raise ValidationError("a socks proxy needs PySocks: pip install 'healthcrawl[socks]'", "proxy")

    @post_load
    def make_settings(self, data: dict, **kwargs) -> CrawlSettings:
        data["nameservers"] = tuple(data["nameservers"])
        data["request"] = RequestSpec().overridden(data["request"])
        return CrawlSettings(**data)
