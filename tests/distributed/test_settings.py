"""The ``crawl.distributed`` section: defaults, and brokers that are refused with the reason."""

from __future__ import annotations

import pytest

from healthcrawl import ConfigError
from healthcrawl.configuration.loading import build_config
from healthcrawl.configuration.settings import DistributedSettings
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry


def load(distributed):
    data = {"crawl": {"distributed": distributed}, "sources": [{"type": "list", "targets": ["example.com"]}]}
    return build_config(data, ComponentRegistry.from_plugins(get_plugin_manager()))


def test_without_a_broker_the_crawl_stays_local():
    assert load({}).settings.distributed == DistributedSettings()
    assert DistributedSettings().broker is None


def test_every_key_is_read():
    settings = load({"broker": "amqp://u:p@mq:5672/hc", "chunk_size": 10, "chunk_deadline": 30,
                     "max_enqueued_chunks": 4, "max_attempts": 2, "host_shards": 16}).settings.distributed
    assert settings == DistributedSettings("amqp://u:p@mq:5672/hc", 10, 30.0, 4, 2, 16)


@pytest.mark.parametrize("distributed, problem", [
    ({"broker": "rediss://:pw@cache:6380/1"},
     "crawl.distributed.broker: rediss://:***@cache:6380/1: a Redis broker does not redeliver a dead worker's "
     "chunks in time; use RabbitMQ (amqp://)"),
    ({"broker": "sqs://key:secret@"}, "crawl.distributed.broker: sqs://key:***@: must be an amqp:// or amqps:// URL"),
    ({"chunk_size": 0}, "crawl.distributed.chunk_size: must be at least 1"),
    ({"host_shards": 0}, "crawl.distributed.host_shards: must be at least 1"),
    ({"brokr": "amqp://mq"}, "crawl.distributed.brokr: unknown key (did you mean 'broker'?)"),
])
def test_bad_settings_are_one_line_errors(distributed, problem):
    with pytest.raises(ConfigError) as error:
        load(distributed)
    assert error.value.problems == [problem]
