"""The ``healthcrawl`` command line: run, check, validate, plugins, examples, and every command a plugin
registers through ``healthcrawl_register_commands`` (the database plugin's runs, show, diff, replay).

Exit codes: 0 done, 1 the command failed (or, with ``--fail-on``, targets failed), 2 usage or config
error, 130 interrupted; docs/cli-reference.md has the table for each command (``EXIT_CODES``).
Start-up stays light: the crawl engine (and with it ``requests``) is imported only by the commands that
crawl, the config machinery (marshmallow, YAML) only by those that read a config, and the plugins only
by a plugin's command and the commands that need their types; ``--help`` lists the plugins' commands
from an index (``light_start``), so ``--help`` and ``--version`` import none of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from healthcrawl.cli.argument_types import positive_number, whole_number
from healthcrawl.cli.example_crawls import CONFIG_NAME, ExampleError, copy_example, get_example, list_examples
from healthcrawl.cli.example_crawls import prepared_example
from healthcrawl.cli.light_start import PluginCommand, command_word, indexed_commands, remember_commands
from healthcrawl.cli.tables import format_table
from healthcrawl.errors import CommandFailed, ConfigError, one_line
from healthcrawl.plugin_system.manager import DISABLE_ENV, PluginLoadError, disabled_plugin_names, get_plugin_manager
from healthcrawl.plugin_system.manager import loaded_plugin_manager, plugin_count

if TYPE_CHECKING:
    from healthcrawl.configuration.loading import CrawlConfig
    from healthcrawl.crawl.engine import Crawl, CrawlOutcome
    from healthcrawl.plugin_system.components import Command
    from healthcrawl.plugin_system.manager import PluginManager
    from healthcrawl.plugin_system.registry import ComponentRegistry
    from healthcrawl.summary import Summary

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    "run": {
        EXIT_OK: "the crawl completed, whatever the targets' health (unless `--fail-on` says otherwise)",
        EXIT_FAILED: "with `--fail-on`: targets errored or failed a check as it says; also: the run could not "
                     "start or failed (an unreachable database, one away longer than `retry_for`)",
        EXIT_USAGE: "usage or config error",
        EXIT_INTERRUPTED: "interrupted by SIGINT or SIGTERM, after writing every result already checked",
    },
    "check": {
        EXIT_OK: "every target was checked, whatever its health (unless `--fail-on` says otherwise)",
        EXIT_FAILED: "with `--fail-on`: targets errored or failed a check as it says",
        EXIT_USAGE: "usage error (a bad flag value names the flag)",
        EXIT_INTERRUPTED: "interrupted; the targets already checked are printed",
    },
    "validate": {
        EXIT_OK: "the config would start a run (with `--connect`: every database answered)",
        EXIT_FAILED: "with `--connect`: a sink's database did not answer",
        EXIT_USAGE: "the config is invalid: one line per problem",
    },
    "runs, show, diff, replay, report": {
        EXIT_OK: "printed, or for `report` written (`diff --exit-code`: nothing newly fails)",
        EXIT_FAILED: "no database where one was looked for, an unknown run, an unreachable database; "
                     "`diff --exit-code`: a target newly fails",
        EXIT_USAGE: "usage or config error (`--config`)",
    },
    "plugins, examples": {
        EXIT_OK: "done (`examples run` as `run`)",
        EXIT_FAILED: "`examples run`: as `run`",
        EXIT_USAGE: "usage error, an unknown example, or a copy that would overwrite a folder",
    },
}
"""What each exit code means, per command (docs/generate_reference.py writes the table). Every command
exits 2 on a usage error (one line per problem, never a traceback) and 130 when interrupted."""
OTHER_COMMAND_EXIT_CODES = {EXIT_OK: "done", EXIT_FAILED: "the command failed (one line on stderr)"}
"""What a plugin's command that ``EXIT_CODES`` does not list exits with (``Command.run``'s contract)."""

FAIL_ON = ("never", "errors", "failed", "any")
"""``--fail-on`` choices: never; errors (a target's fetch failed: it has an ``error_kind``); failed (a
target was fetched but failed a check); any (either: a target is not ok)."""

BUILT_IN_COMMANDS = ("run", "check", "validate", "plugins", "examples")


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """Parse ``argv`` and run one command; returns the exit code.

    ``own_process`` says the process is healthcrawl's to set up (the console script): a crawl then
    raises the open-file limit and freezes the garbage collector (``process_setup``). Called in
    another program's process (tests, an embedding program), ``main`` leaves the process as it is.
    """
    logging.basicConfig(level=logging.WARNING, format="healthcrawl: %(message)s")
    if argv is None:
        argv = sys.argv[1:]
    try:
        word = command_word(argv)
        args = build_parser(load_plugins=word is not None and word not in BUILT_IN_COMMANDS).parse_args(argv)
        args.own_process = own_process
        return args.command(args)
    except SystemExit:
        raise  # argparse has printed the help, the version or the usage error
    except BrokenPipeError:
        # The reader went away (`healthcrawl runs | head`): stop quietly, and keep the interpreter's
        # final flush of stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except _usage_errors() as error:
        for line in getattr(error, "problems", [str(error)]):
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except ExampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a command that is not a crawl (a crawl handles SIGINT itself)
        return EXIT_INTERRUPTED
    except CommandFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


def _usage_errors() -> tuple[type[Exception], ...]:
    """What ends a command with exit code 2 (evaluated only when a command raised: it imports the registry)."""
    from healthcrawl.plugin_system.registry import RegistrationError

    return ConfigError, PluginLoadError, RegistrationError


def build_parser(load_plugins: bool = True) -> argparse.ArgumentParser:
    """The argument parser of every command (also read by docs/generate_reference.py).

    By default the plugins are loaded and their commands parsed. Without ``load_plugins`` (a command line
    for a built-in command, or none: ``--help``, ``--version``) they are not: ``--help`` then looks up the
    plugins' commands when it is given, to list them (``PluginHelpAction``).
    """
    parser = argparse.ArgumentParser(
        prog="healthcrawl", description="Check the health of large lists of URLs and domains.", add_help=load_plugins,
    )
    parser.add_argument(
        "--version", action=VersionAction, help="print the versions of healthcrawl, Python, gevent and urllib3, "
        "and how many plugins are loaded",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the crawl described by a config file")
    run.add_argument("config", help="path of the crawl's YAML config")
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    run.add_argument(
        "--resume", nargs="?", const="", metavar="RUN_ID",
        help="continue the latest interrupted run of this config (or RUN_ID), checking only targets without a result",
    )
    add_fail_on_argument(run)
    run.set_defaults(command=command_run)

    check = commands.add_parser("check", help="check a few targets with the default checks and print a table")
    check.add_argument("targets", nargs="+", metavar="TARGET", help="URL or bare domain")
    check.add_argument("--timeout", type=positive_number, default=10.0, help="seconds per target (default 10)")
    check.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    check.add_argument("--min-days", type=whole_number, default=14, help="tls_expiry threshold in days (default 14)")
    check.add_argument(
        "--format", choices=("table", "json", "jsonl"), default="table",
        help="table (default), json (one array of result records) or jsonl (one record per line)",
    )
    add_fail_on_argument(check)
    check.set_defaults(command=command_check)

    validate = commands.add_parser(
        "validate", help="validate a config file without crawling",
        description="Load the config and build its sources, checks and sinks as `run` would, reporting what `run` "
        "would reject at startup with the same messages; nothing is fetched or written.",
    )
    validate.add_argument("config", help="path of the crawl's YAML config")
    validate.add_argument("--connect", action="store_true", help="also connect to each sink's database")
    validate.set_defaults(command=command_validate)

    plugins = commands.add_parser("plugins", help="list the plugins found and the types each provides")
    plugins.set_defaults(command=command_plugins)

    examples = commands.add_parser(
        "examples",
        help="list, run or copy the packaged example crawls",
        description="Without an ACTION, list the packaged example crawls with a one-line description each.",
    )
    examples.set_defaults(command=command_examples_list)
    example_commands = examples.add_subparsers(metavar="ACTION")
    example_run = example_commands.add_parser("run", help="run an example (its outputs go to the current folder)")
    example_run.add_argument("name", metavar="NAME", help="an example's name, or the path of a copied example")
    example_run.set_defaults(command=command_examples_run)
    example_copy = example_commands.add_parser("copy", help="copy an example's folder to edit it")
    example_copy.add_argument("name", metavar="NAME", help="an example's name")
    example_copy.add_argument("destination", metavar="DEST", nargs="?", help="new folder (default: ./NAME)")
    example_copy.set_defaults(command=command_examples_copy)

    if not load_plugins:
        parser.add_argument("-h", "--help", action=PluginHelpAction, commands=commands, help="show this help message and exit")
        return parser
    for _, command in plugin_commands(get_plugin_manager()):
        sub = commands.add_parser(command.name, help=command.help)
        command.add_arguments(sub)
        sub.set_defaults(command=command.run)
    return parser


class PluginHelpAction(argparse.Action):
    """``healthcrawl --help`` when the plugins are not loaded: adds the plugins' commands to ``commands``, as
    remembered in the index when it is fresh (nothing imported, see ``light_start``), then prints the help."""

    def __init__(self, option_strings, dest, commands, help=None):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)
        self.commands = commands

    def __call__(self, parser, namespace, values, option_string=None):
        for _, name, help in listed_plugin_commands():
            self.commands.add_parser(name, help=help)
        parser.print_help()
        parser.exit()


def listed_plugin_commands() -> list[PluginCommand]:
    """``(plugin, command name, help)`` of the plugins' commands: from the index while it matches the installed
    plugins and none are loaded in this process, else from the plugins (loaded now if need be)."""
    if loaded_plugin_manager() is None and (listed := indexed_commands()) is not None:
        return listed
    return [(plugin, command.name, command.help) for plugin, command in plugin_commands(get_plugin_manager())]


class VersionAction(argparse.Action):
    """``--version``: one line of versions, read from package metadata (nothing is imported for it)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def version_text() -> str:
    """``healthcrawl X (Python X, gevent X, urllib3 X, N plugins)``."""
    from healthcrawl import __version__

    manager = loaded_plugin_manager()
    if manager is None:
        plugins = plugin_count()
    else:
        plugins = sum(1 for _, plugin in manager.list_name_plugin() if plugin is not None)
    libraries = ", ".join(f"{name} {_installed_version(name)}" for name in ("gevent", "urllib3"))
    return f"healthcrawl {__version__} (Python {platform.python_version()}, {libraries}, {plugins} plugins)"


def _installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def add_fail_on_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on", choices=FAIL_ON, default="never",
        help="exit 1 when targets errored (errors), failed a check (failed) or either (any); "
        "default never: exit 0 whatever the targets' health",
    )


def targets_fail(summary: Summary, fail_on: str) -> bool:
    """Whether the run's targets meet the ``--fail-on`` condition (see ``FAIL_ON``)."""
    return {
        "never": False,
        "errors": summary.errors > 0,
        "failed": summary.failed_checks > 0,
        "any": summary.ok < summary.total,
    }[fail_on]


def plugin_commands(manager: PluginManager) -> list[tuple[str, Command]]:
    """``(plugin name, command)`` for every command the plugins register through ``healthcrawl_register_commands``.

    A name taken by a built-in command or by another plugin stops the command with an error naming the plugin.
    When ``manager`` holds the installed plugins only (none registered at run time), their commands are
    remembered for ``--help`` (``light_start``).
    """
    from healthcrawl.plugin_system.components import Command
    from healthcrawl.plugin_system.registry import RegistrationError, raise_registration_errors

    found: dict[str, tuple[str, type[Command]]] = {name: ("healthcrawl", None) for name in BUILT_IN_COMMANDS}

    def registrar(plugin: str):
        def register(command: type[Command]) -> None:
            if not (isinstance(command, type) and issubclass(command, Command)):
                raise RegistrationError(f"plugin {plugin!r} registered {command!r} as a command, which is not a Command subclass")
            clash = found.get(command.name)
            if clash is not None:
                owner = "a built-in command" if clash[1] is None else f"plugin {clash[0]!r}"
                raise RegistrationError(f"command {command.name!r} is registered twice: by {owner} and by plugin {plugin!r}")
            found[command.name] = (plugin, command)

        return {"register": register}

    hook_name = "healthcrawl_register_commands"
    raise_registration_errors(manager, hook_name, manager.call_per_plugin(hook_name, registrar))
    registered = [(plugin, command()) for plugin, command in found.values() if command is not None]
    installed_only = all(name in manager.origins for name, plugin in manager.list_name_plugin() if plugin is not None)
    if manager is loaded_plugin_manager() and installed_only:
        remember_commands([(plugin, command.name, command.help) for plugin, command in registered])
    return registered


def _registry() -> ComponentRegistry:
    from healthcrawl.plugin_system.registry import ComponentRegistry

    return ComponentRegistry.from_plugins(get_plugin_manager())


def command_run(args) -> int:
    from healthcrawl.configuration.loading import load_config

    config = load_config(args.config, _registry())
    return _run_and_report(config, args, table=False, quiet=args.quiet, resume=args.resume)


def _run_and_report(config: CrawlConfig, args, table: bool, quiet: bool = False, resume: str | None = None) -> int:
    """Crawl ``config``, print the run id (and with ``table`` one row per target) and the summary."""
    from healthcrawl.cli.progress import ProgressBar
    from healthcrawl.crawl.engine import Crawl
    from healthcrawl.testing.collector import ResultCollector

    collector = ResultCollector()
    extra_sinks: list = [collector] if table else []
    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() and not quiet else None
    if progress is not None:
        extra_sinks.append(progress)
    crawl = Crawl(config, extra_sinks=extra_sinks, resume=resume)
    if progress is not None:
        progress.total = crawl.expected_total()
    outcome = _run(crawl, args)
    if not quiet:
        print(f"run {outcome.run.run_id} {outcome.state}")
        if table:
            print(_result_table(sorted(collector.results, key=lambda result: result.started_at)))
        print(outcome.summary.render())
    if outcome.error is not None:
        print(f"error: {outcome.error}", file=sys.stderr)
        return EXIT_FAILED
    return _exit_code(outcome, getattr(args, "fail_on", "never"))


def _exit_code(outcome: "CrawlOutcome", fail_on: str) -> int:
    """130 for an interrupted crawl, else 1 when the targets meet ``--fail-on``, else 0."""
    if outcome.state == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_FAILED if targets_fail(outcome.summary, fail_on) else EXIT_OK


def _run(crawl: "Crawl", args) -> "CrawlOutcome":
    """Set this process up for crawling if it is ours (open files, warnings, GC: see ``process_setup``), then run."""
    if args.own_process:
        from healthcrawl.process_setup import prepare_process

        prepare_process(crawl.settings)
    return crawl.run()


def command_check(args) -> int:
    from healthcrawl.configuration.loading import build_config
    from healthcrawl.target_parsing import parse_target

    data = {
        "crawl": {"timeout": args.timeout, "verify": not args.insecure, "concurrency": min(256, len(args.targets)), "workers": 1},
        "sources": [{"type": "list", "targets": args.targets}],
        "checks": [{"type": "status"}, {"type": "tls_expiry", "min_days": args.min_days}],
    }
    config = build_config(data, _registry(), name="healthcrawl check")
    from healthcrawl.crawl.engine import Crawl
    from healthcrawl.testing.collector import ResultCollector

    collector = ResultCollector()
    outcome = _run(Crawl(config, extra_sinks=[collector]), args)
    order = {parse_target(text).url: index for index, text in enumerate(args.targets)}
    results = sorted(collector.results, key=lambda result: order.get(result.target, len(order)))
    if args.format == "json":
        print(json.dumps([result.to_record() for result in results], indent=2, ensure_ascii=False))
    elif args.format == "jsonl":
        print("".join(json.dumps(result.to_record(), ensure_ascii=False) + "\n" for result in results), end="")
    else:
        print(_result_table(results))
    return _exit_code(outcome, args.fail_on)


def _result_table(results) -> str:
    rows = [("TARGET", "RESULT", "STATUS", "MS", "DETAIL")]
    for result in results:
        verdict = "ok" if result.ok else (result.error_kind or "failed")
        failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
        detail = result.error or "; ".join(failed) or (result.checks[0].detail if result.checks else "")
        total = result.timings.total_ms
        rows.append((result.target, verdict, str(result.status_code or "-"), f"{total:.0f}" if total else "-", detail))
    return format_table(rows)


def command_validate(args) -> int:
    """Build the crawl as ``run`` would (sources open their files, sinks check their URLs), without crawling."""
    from healthcrawl.configuration.loading import load_config
    from healthcrawl.crawl.engine import Crawl

    config = load_config(args.config, _registry())
    crawl = Crawl(config)
    if args.connect:
        for sink in crawl.sinks:
            try:
                sink.probe()
            except Exception as error:
                raise CommandFailed(f"sink {sink.type_name!r} cannot start: {one_line(error)}") from None
    counts = f"{len(config.sources)} source(s), {len(config.checks)} check(s), {len(config.sinks)} sink(s)"
    print(f"{Path(args.config)}: ok ({counts})")
    return EXIT_OK


def command_plugins(args) -> int:
    manager = get_plugin_manager()
    registry = _registry()
    commands = plugin_commands(manager)
    for name, plugin in sorted(manager.list_name_plugin()):
        if plugin is None:  # blocked by HEALTHCRAWL_DISABLE_PLUGINS
            continue
        origin = manager.origin(name)
        types = [f"{t.kind}:{t.name}" for t in registry.all() if t.plugin == name]
        types += [f"command:{command.name}" for plugin, command in commands if plugin == name]
        hooks = sorted(h.name for h in manager.get_hookcallers(plugin) or [])
        print(f"{name} {origin.version or ''}".rstrip())
        print(f"  source: {origin.source}")
        print(f"  types:  {', '.join(types) or '-'}")
        print(f"  hooks:  {', '.join(hooks)}")
    disabled = [name if name in manager.skipped else f"{name} (no such plugin)" for name in sorted(disabled_plugin_names())]
    if disabled:
        print(f"disabled by {DISABLE_ENV}: {', '.join(disabled)}")
    return EXIT_OK


def command_examples_list(args) -> int:
    examples = list_examples()
    width = max(len(example.name) for example in examples)
    for example in examples:
        print(f"{example.name:<{width}}  {example.description}")
    print("\nhealthcrawl examples run NAME   runs one here;   healthcrawl examples copy NAME [DEST]   copies it to edit")
    return EXIT_OK


def command_examples_run(args) -> int:
    from healthcrawl.configuration.loading import load_config

    example = get_example(args.name)
    with prepared_example(example) as config_path:
        config = load_config(config_path, _registry())
        # Its outputs land here, not in the (temporary or installed) folder the config is read from.
        config = dataclasses.replace(config, name=f"example {example.name}", output_dir=Path.cwd())
        return _run_and_report(config, args, table=True)


def command_examples_copy(args) -> int:
    example = get_example(args.name)
    destination = copy_example(example, Path(args.destination or example.name))
    print(f"copied {example.name} to {destination}; edit {destination / CONFIG_NAME}, then run it with:")
    print(f"  {run_copy_command(example, destination)}")
    return EXIT_OK


def run_copy_command(example, destination: Path) -> str:
    """The command that runs the copy at ``destination``: ``healthcrawl run`` on its config, or, when it
    needs its demo servers, ``healthcrawl examples run`` on its folder written as a path (``./NAME``),
    which a packaged example's name cannot be mistaken for."""
    if not example.needs_demo_servers:
        return f"healthcrawl run {destination / CONFIG_NAME}"
    folder = str(destination) if destination.is_absolute() or destination.parent != Path(".") else f"./{destination}"
    return f"healthcrawl examples run {folder}"
