"""The built-in database plugin: the ``sqlalchemy`` sink, the ``sql`` source and the run-history commands."""

from healthcrawl.plugins.database.sink import healthcrawl_register_sinks  # noqa: F401
from healthcrawl.plugins.database.sql_source import healthcrawl_register_sources  # noqa: F401
