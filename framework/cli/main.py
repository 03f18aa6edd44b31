"""The ``healthcrawl`` command line: run, check, validate, plugins, examples, and every command a plugin
registers through ``healthcrawl_register_commands`` (the database plugin's runs, show, diff, replay).

Exit codes of ``run``: 0 the crawl completed, 1 it could not start or failed,
2 usage or config error, 130 interrupted (after flushing what was already checked).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

from healthcrawl.cli.example_crawls import ExampleError, copy_example, get_example, list_examples, prepared_example
from healthcrawl.cli.progress import ProgressBar
from healthcrawl.cli.tables import format_table
from healthcrawl.configuration.loading import build_config, load_config
from healthcrawl.crawl.engine import Crawl, CrawlOutcome
from healthcrawl.errors import CommandFailed, ConfigError
from healthcrawl.plugin_system.components import Command
from healthcrawl.plugin_system.manager import DISABLE_ENV, PluginLoadError, disabled_plugin_names, get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry, RegistrationError, raise_registration_errors
from healthcrawl.process_setup import prepare_process
from healthcrawl.target_parsing import parse_target
from healthcrawl.testing.collector import ResultCollector

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

BUILT_IN_COMMANDS = ("run", "check", "validate", "plugins", "examples")


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """Parse ``argv`` and run one command; returns the exit code.

    ``own_process`` says the process is healthcrawl's to set up (the console script): a crawl then
    raises the open-file limit and freezes the garbage collector (``process_setup``). Called in
    another program's process (tests, an embedding program), ``main`` leaves the process as it is.
    """
    logging.basicConfig(level=logging.WARNING, format="healthcrawl: %(message)s")
    try:
        args = build_parser().parse_args(argv)  # plugins load here: their commands are part of the parser
        args.own_process = own_process
        return args.command(args)
    except BrokenPipeError:
        # The reader went away (`healthcrawl runs | head`): stop quietly, and keep the interpreter's
        # final flush of stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except (ConfigError, PluginLoadError, RegistrationError) as error:
        for line in getattr(error, "problems", [str(error)]):
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except ExampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (also read by docs/generate_reference.py)."""
    parser = argparse.ArgumentParser(prog="healthcrawl", description="Check the health of large lists of URLs and domains.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the crawl described by a config file")
    run.add_argument("config", help="path of the crawl's YAML config")
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    run.add_argument(
        "--resume", nargs="?", const="", metavar="RUN_ID",
        help="continue the latest interrupted run of this config (or RUN_ID), checking only targets without a result",
    )
    run.set_defaults(command=command_run)

    check = commands.add_parser("check", help="check a few targets with the default checks and print a table")
    check.add_argument("targets", nargs="+", metavar="TARGET", help="URL or bare domain")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per target (default 10)")
    check.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    check.add_argument("--min-days", type=int, default=14, help="tls_expiry threshold in days (default 14)")
    check.set_defaults(command=command_check)

    validate = commands.add_parser("validate", help="validate a config file without crawling")
    validate.add_argument("config", help="path of the crawl's YAML config")
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

    registered = plugin_commands(get_plugin_manager())
    parser.set_defaults(plugin_commands=registered)  # for `healthcrawl plugins`: the hook is called once
    for _, command in registered:
        sub = commands.add_parser(command.name, help=command.help)
        command.add_arguments(sub)
        sub.set_defaults(command=command.run)
    return parser


def plugin_commands(manager) -> list[tuple[str, Command]]:
    """``(plugin name, command)`` for every command the plugins register through ``healthcrawl_register_commands``.

    A name taken by a built-in command or by another plugin stops startup with an error naming the plugin.
    """
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
    return [(plugin, command()) for plugin, command in found.values() if command is not None]


def _registry() -> ComponentRegistry:
    return ComponentRegistry.from_plugins(get_plugin_manager())


def command_run(args) -> int:
    config = load_config(args.config, _registry())
    return _run_and_report(config, args, table=False, quiet=args.quiet, resume=args.resume)


def _run_and_report(config, args, table: bool, quiet: bool = False, resume: str | None = None) -> int:
    """Crawl ``config``, print the run id (and with ``table`` one row per target) and the summary."""
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
    return EXIT_INTERRUPTED if outcome.state == "interrupted" else EXIT_OK


def _run(crawl: Crawl, args) -> CrawlOutcome:
    """Set this process up for crawling if it is ours (open files, warnings, GC: see ``process_setup``), then run."""
    if args.own_process:
        prepare_process(crawl.settings)
    return crawl.run()


def command_check(args) -> int:
    data = {
        "crawl": {"timeout": args.timeout, "verify": not args.insecure, "concurrency": min(256, len(args.targets)), "workers": 1},
        "sources": [{"type": "list", "targets": args.targets}],
        "checks": [{"type": "status"}, {"type": "tls_expiry", "min_days": args.min_days}],
    }
    config = build_config(data, _registry(), name="healthcrawl check")
    collector = ResultCollector()
    outcome = _run(Crawl(config, extra_sinks=[collector]), args)
    order = {parse_target(text).url: index for index, text in enumerate(args.targets)}
    print(_result_table(sorted(collector.results, key=lambda result: order.get(result.target, len(order)))))
    return EXIT_INTERRUPTED if outcome.state == "interrupted" else EXIT_OK


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
    config = load_config(args.config, _registry())
    counts = f"{len(config.sources)} source(s), {len(config.checks)} check(s), {len(config.sinks)} sink(s)"
    print(f"{Path(args.config)}: ok ({counts})")
    return EXIT_OK


def command_plugins(args) -> int:
    manager = get_plugin_manager()
    registry = _registry()
    commands = args.plugin_commands
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
    example = get_example(args.name)
    with prepared_example(example) as config_path:
        config = load_config(config_path, _registry())
        config = dataclasses.replace(config, name=f"example {example.name}")
        return _run_and_report(config, args, table=True)


def command_examples_copy(args) -> int:
    example = get_example(args.name)
    destination = copy_example(example, Path(args.destination or example.name))
    runner = "healthcrawl examples run" if example.needs_demo_servers else "healthcrawl run"
    target = destination if example.needs_demo_servers else destination / "crawl.yaml"
    print(f"copied {example.name} to {destination}; run it with: {runner} {target}")
    return EXIT_OK
