"""The ``healthcrawl_register_commands`` hook: plugins add ``healthcrawl`` subcommands, run in-process here."""

import argparse
import os
import sqlite3
import subprocess
import sys

import pytest

from healthcrawl import Command, CommandFailed, hookimpl
from healthcrawl.cli.main import main


class GreetCommand(Command):
    name = "greet"
    help = "say hello to someone"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("who", metavar="WHO")
        parser.add_argument("--fail", action="store_true", help="fail instead of greeting")

    def run(self, args: argparse.Namespace) -> int:
        if args.fail:
            raise CommandFailed(f"cannot greet {args.who}")
        print(f"hello {args.who}")
        return 3  # the command's own exit code reaches the caller


class GreetPlugin:
    @hookimpl
    def healthcrawl_register_commands(self, register):
        register(GreetCommand)


@pytest.mark.hook("healthcrawl_register_commands")
def test_a_registered_command_runs_with_its_arguments_and_exit_code(register_plugin, capsys):
    register_plugin(GreetPlugin(), name="greeter")
    assert main(["greet", "world"]) == 3
    assert capsys.readouterr().out == "hello world\n"
    assert main(["greet", "world", "--fail"]) == 1
    assert capsys.readouterr().err == "error: cannot greet world\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert ["greet", "say", "hello", "to", "someone"] in [line.split() for line in capsys.readouterr().out.splitlines()]


@pytest.mark.hook("healthcrawl_register_commands")
def test_an_implementation_without_the_register_argument_is_still_called_through_pluggy(register_plugin, capsys):
    calls = []

    class Plugin:
        @hookimpl
        def healthcrawl_register_commands(self):  # fewer arguments than the spec: allowed, as in pluggy
            calls.append("called")

    register_plugin(Plugin(), name="quiet")
    assert main(["plugins"]) == 0
    assert calls == ["called"]
    assert "quiet" in capsys.readouterr().out


@pytest.mark.hook("healthcrawl_register_commands")
@pytest.mark.parametrize(("name", "owner"), [("runs", "plugin 'healthcrawl.plugins.database'"),
                                             ("run", "a built-in command")])
def test_a_command_name_that_is_taken_is_a_one_line_error_naming_the_plugin(register_plugin, capsys, name, owner):
    class Taken(GreetCommand):
        pass

    Taken.name = name

    class Plugin:
        @hookimpl
        def healthcrawl_register_commands(self, register):
            register(Taken)

    register_plugin(Plugin(), name="thief")
    assert main(["plugins"]) == 2
    assert capsys.readouterr().err == f"error: command {name!r} is registered twice: by {owner} and by plugin 'thief'\n"


@pytest.mark.hook("healthcrawl_register_commands")
def test_the_history_commands_come_from_the_database_plugin(tmp_path):
    env = {**os.environ, "HEALTHCRAWL_DISABLE_PLUGINS": "healthcrawl.plugins.database"}
    without = subprocess.run([sys.executable, "-m", "healthcrawl", "runs", "--db", f"sqlite:///{tmp_path}/h.db"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert without.returncode == 2 and "invalid choice: 'runs'" in without.stderr
    sqlite3.connect(tmp_path / "h.db").close()  # history commands read an existing database, never create one
    assert main(["runs", "--db", f"sqlite:///{tmp_path}/h.db"]) == 0  # with the plugin (loaded in this process)


@pytest.mark.hook("healthcrawl_register_commands")
def test_healthcrawl_plugins_lists_the_commands_each_plugin_registered(healthcrawl_cli):
    result = healthcrawl_cli("plugins")
    assert result.exit_code == 0
    block = result.stdout.split("healthcrawl.plugins.database ", 1)[1].split("\nhealthcrawl.", 1)[0]
    types_line = next(line for line in block.splitlines() if line.strip().startswith("types:"))
    assert all(f"command:{name}" in types_line for name in ("runs", "show", "diff", "replay"))
