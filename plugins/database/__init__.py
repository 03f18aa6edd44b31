"""The built-in database plugin: the ``sqlalchemy`` sink, the ``sql`` source and the run-history commands.

It registers everything through the same hooks as a third-party plugin; the core knows
none of its type names or options. SQLAlchemy and Alembic are imported only when used.
"""

from healthcrawl import hookimpl
from healthcrawl.plugins.database.commands import HISTORY_COMMANDS
from healthcrawl.plugins.database.sink import DatabaseSink
from healthcrawl.plugins.database.sql_source import SqlSource


@hookimpl
def healthcrawl_register_sources(register):
    register(SqlSource)


@hookimpl
def healthcrawl_register_sinks(register):
    register(DatabaseSink)


@hookimpl
def healthcrawl_register_commands(register):
    for command in HISTORY_COMMANDS:
        register(command)
