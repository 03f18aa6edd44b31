"""The run-history commands the database plugin adds to ``healthcrawl``: runs, show, diff, replay, report.

These classes only declare arguments; ``history_output`` (which needs SQLAlchemy) is imported
when a command runs, so listing the commands costs nothing. Wherever a run id is asked for,
a unique prefix of one, ``latest`` or ``previous`` will do.
"""

from __future__ import annotations

import argparse

from healthcrawl import Command
from healthcrawl.cli.argument_types import positive_integer
from healthcrawl.plugins.database.storage import DEFAULT_DB


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db URL`` or ``--config CONFIG``, for the commands that read a results database."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="URL", help=f"database URL (default {DEFAULT_DB})")
    where.add_argument(
        "--config", metavar="CONFIG",
        help="use the database of this config's sqlalchemy sink (a relative SQLite file is found from any folder)",
    )


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")


class HistoryCommand(Command):
    """A command that reads a results database; ``run`` calls ``history_output.command_NAME``, which
    returns the exit code."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_database_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        from healthcrawl.plugins.database import history_output

        return getattr(history_output, f"command_{self.name}")(args)


class RunsCommand(HistoryCommand):
    name = "runs"
    help = "list the runs stored in a database"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--limit", type=positive_integer, default=None, metavar="N", help="show only the newest N runs")
        add_format_argument(parser)
        super().add_arguments(parser)


class ShowCommand(HistoryCommand):
    name = "show"
    help = "summarise one stored run and list its failing targets"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "run_id", metavar="RUN", nargs="?", default="latest",
            help="a run id, a unique prefix of one, latest (the default) or previous",
        )
        parser.add_argument(
            "--limit", type=positive_integer, default=10, metavar="N",
            help="targets listed per error kind, per failed check and in each list (default 10)",
        )
        add_format_argument(parser)
        super().add_arguments(parser)


class DiffCommand(HistoryCommand):
    name = "diff"
    help = "compare two stored runs target by target"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "run_a", metavar="RUN_A", nargs="?", default="previous",
            help="the earlier run: an id, a unique prefix, latest or previous (the default)",
        )
        parser.add_argument(
            "run_b", metavar="RUN_B", nargs="?", default="latest",
            help="the later run: an id, a unique prefix, latest (the default) or previous",
        )
        add_format_argument(parser)
        parser.add_argument("--exit-code", action="store_true", help="exit 1 when a target newly fails")
        super().add_arguments(parser)


class ReplayCommand(HistoryCommand):
    name = "replay"
    help = "write results spooled during a database outage"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("spool", metavar="SPOOL", help="the spool file named by the failed run")
        super().add_arguments(parser)


class ReportCommand(HistoryCommand):
    name = "report"
    help = "write one stored run as a self-contained HTML page with charts"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run_id", metavar="RUN", nargs="?", default=None,
                            help="a run id, or a unique prefix of one (default: the newest run)")
        parser.add_argument("-o", "--output", metavar="FILE", default="report.html",
                            help="where to write the page (default report.html)")
        super().add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        from healthcrawl.plugins.database.report import command_report

        command_report(args)
        return 0


HISTORY_COMMANDS = (RunsCommand, ShowCommand, DiffCommand, ReplayCommand, ReportCommand)
