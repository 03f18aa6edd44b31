"""Config test helpers: the registry of the installed plugins, and the problems a config error lists."""

import pytest

from healthcrawl import ConfigError
from healthcrawl.configuration.loading import build_config
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry


@pytest.fixture(scope="module")
def registry():
    return ComponentRegistry.from_plugins(get_plugin_manager())


def problems_of(data, registry):
    """The problems ``build_config(data)`` refuses ``data`` with (it must refuse it)."""
    with pytest.raises(ConfigError) as caught:
        build_config(data, registry)
    return caught.value.problems
