"""The built-in distributed plugin: the ``worker`` and ``workers`` commands of a distributed crawl.

Registered through ``healthcrawl_register_commands`` like any plugin's commands; Celery is
imported only when one of them runs.
"""

from healthcrawl import hookimpl
from healthcrawl.plugins.distributed.commands import WorkerCommand, WorkersCommand


@hookimpl
def healthcrawl_register_commands(register):
    register(WorkerCommand)
    register(WorkersCommand)
