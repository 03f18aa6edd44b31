"""The ``crawl`` section of a config: ``CrawlSettings`` and the schema that validates it.

Each setting's default is written once, on the dataclass; the schema reads it from there.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import ssl
from dataclasses import dataclass, field

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from healthcrawl import __version__
from healthcrawl.configuration.numbers import bounded_integer, bounded_number
from healthcrawl.configuration.request_spec import RequestSpec, RequestSpecField, check_header_value
from healthcrawl.configuration.retries import RetrySettings, RetrySettingsSchema
from healthcrawl.fetching.network_policy import parse_networks
from healthcrawl.fetching.resolver import RESOLVERS, split_nameserver
from healthcrawl.target_parsing import mask_credentials


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
            if not os.path.isdir(value):  # a folder of hashed certificates is read when a certificate is checked
                _load_ca_bundle(value)
            return value
        raise ValidationError("must be true, false or the path of a CA bundle")


def _load_ca_bundle(path: str) -> None:
    """Load the CA certificates in ``path`` as the fetchers will; a file that holds none is a ``ValidationError``."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or error
        raise ValidationError(f"{path} is not a CA bundle (PEM certificates): {reason}") from None


MAX_HOST_SHARDS = 4096
"""The most shard queues a run may use (every worker process subscribes to each of them)."""


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
    deny_networks: tuple[str, ...] = ()
    allow_networks: tuple[str, ...] = ()

    def to_record(self) -> dict:
        """The settings as JSON-ready data, secrets masked: what a sink may store with a run."""
        record = {spec.name: getattr(self, spec.name) for spec in dataclasses.fields(self)}
        record.update(
            proxy=self.proxy and mask_credentials(self.proxy),
            nameservers=list(self.nameservers),
            deny_networks=list(self.deny_networks),
            allow_networks=list(self.allow_networks),
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
    chunk_size = bounded_integer(
        1, 100_000, load_default=_default("chunk_size", DistributedSettings),
        metadata={"description": "Targets per task sent to a worker."},
    )
    chunk_deadline = bounded_number(
        0, 86_400, above=True, load_default=_default("chunk_deadline", DistributedSettings),
        metadata={"description": "Seconds a worker spends on one chunk at most; keep it below RabbitMQ's consumer_timeout."},
    )
    max_enqueued_chunks = bounded_integer(
        1, 100_000, load_default=_default("max_enqueued_chunks", DistributedSettings),
        metadata={"description": "Chunks sent and not yet answered at most (back-pressure on the coordinator)."},
    )
    max_attempts = bounded_integer(
        1, 100, load_default=_default("max_attempts", DistributedSettings),
        metadata={"description": "Times a chunk is sent before its missing targets are recorded as internal_error."},
    )
    host_shards = bounded_integer(
        1, MAX_HOST_SHARDS, load_default=_default("host_shards", DistributedSettings),
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

    concurrency = bounded_integer(
        1, 100_000, load_default=_default("concurrency"),
        metadata={"description": "Greenlets in the pool: targets fetched at once."},
    )
    timeout = bounded_number(
        0, 3600, above=True, load_default=_default("timeout"),
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
    max_body_bytes = bounded_integer(
        0, 1 << 30, load_default=_default("max_body_bytes"),
        metadata={"description": "Body bytes read for checks (after decompression); the rest is never read."},
    )
    max_redirects = bounded_integer(
        0, 100, load_default=_default("max_redirects"),
        metadata={"description": "Redirects followed before too_many_redirects."},
    )
    user_agent = fields.String(
        load_default=_default("user_agent"), validate=check_header_value, metadata={"description": "User-Agent header of every request."}
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
    per_host_concurrency = bounded_integer(
        1, 100_000, load_default=_default("per_host_concurrency"),
        allow_none=True,
        metadata={"description": "At most this many targets of one host in flight at once (default: no limit)."},
    )
    per_host_delay = bounded_number(
        0, 3600, load_default=_default("per_host_delay"),
        metadata={"description": "Seconds between the starts of two targets of one host (default 0)."},
    )
    batch_size = bounded_integer(
        1, 100_000, load_default=_default("batch_size"),
        metadata={"description": "Results per batch handed to the sinks."},
    )
    workers = bounded_integer(
        1, 1024, load_default=_default("workers"),
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

    deny_networks = fields.List(
        fields.String(),
        load_default=_default("deny_networks"),
        metadata={"description": "Networks (CIDRs, addresses, or private) never connected to, checked on the resolved "
                  "address of every connection: a refused one is blocked_address (see the security page)."},
    )
    allow_networks = fields.List(
        fields.String(),
        load_default=_default("allow_networks"),
        metadata={"description": "Exceptions to deny_networks: CIDRs (or private) connected to even though they are denied."},
    )

    @validates_schema
    def networks_are_cidrs(self, data: dict, **kwargs) -> None:
        bad: dict[str, dict[int, list[str]]] = {}
        for key in ("deny_networks", "allow_networks"):
            for index, spec in enumerate(data.get(key) or ()):
                try:
                    parse_networks([spec])
                except ValueError as error:
                    bad.setdefault(key, {})[index] = [f"{error} (expected a CIDR such as 10.0.0.0/8, an address, or private)"]
        if bad:  # every bad item of both lists, each at its index
            raise ValidationError(bad)
        if data.get("allow_networks") and not data.get("deny_networks"):
            raise ValidationError("has no effect without crawl.deny_networks (it lists exceptions to it)", "allow_networks")

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
        data["deny_networks"] = tuple(data["deny_networks"])
        data["allow_networks"] = tuple(data["allow_networks"])
        data["request"] = RequestSpec().overridden(data["request"])
        return CrawlSettings(**data)
