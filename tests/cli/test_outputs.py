"""What the command line tells people and machines: --fail-on exit codes, check's formats, --version,
validate as strict as run, readable config and flag errors, and what `examples copy` prints.

Commands run in this process (``healthcrawl_cli``); only the import check of ``--version`` needs a
fresh interpreter.
"""

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from healthcrawl import Command, Crawl, hookimpl, load_config
from healthcrawl.cli.example_crawls import get_example
from healthcrawl.testing.servers import HTTPTestServer, free_port


def write_config(path, body):
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture
def server():
    with HTTPTestServer() as server:
        server.route("/up", body="healthy")
        server.route("/down", status=500)
        yield server


def crawl_config(tmp_path, targets):
    """A cron-style crawl of ``targets`` with the status check, its results in SQLite next to the config."""
    return write_config(tmp_path / "crawl.yaml", f"""
        crawl: {{workers: 1, timeout: 5}}
        sources: [{{type: list, targets: {json.dumps(targets)}}}]
        checks: [{{type: status}}]
        sinks: [{{type: sqlalchemy, url: "sqlite:///results.db"}}]
    """)


@pytest.mark.parametrize(
    ("targets", "fail_on", "exit_code"),
    [
        (["up"], "failed", 0),
        (["up", "down"], "failed", 1),  # a target failed its status check
        (["up", "refused"], "failed", 0),  # an error is not a failed check
        (["up", "refused"], "errors", 1),
        (["up", "down"], "errors", 0),
        (["up", "down"], "any", 1),
        (["up", "refused"], "any", 1),
        (["up"], "any", 0),
        (["up", "down", "refused"], "never", 0),
    ],
)
def test_run_fail_on_exits_1_exactly_when_targets_meet_it(tmp_path, server, healthcrawl_cli, targets, fail_on, exit_code):
    urls = {"up": server.url("/up"), "down": server.url("/down"), "refused": f"http://127.0.0.1:{free_port()}/"}
    config = crawl_config(tmp_path, [urls[name] for name in targets])
    proc = healthcrawl_cli("run", "-q", "--fail-on", fail_on, config)
    assert proc.exit_code == exit_code, proc.stderr
    assert proc.stderr == ""  # unhealthy targets are data, not an error message
    assert (tmp_path / "results.db").exists(), "the results are stored either way"


def test_run_without_fail_on_exits_0_whatever_the_targets_health(tmp_path, server, healthcrawl_cli):
    config = crawl_config(tmp_path, [server.url("/down"), f"http://127.0.0.1:{free_port()}/"])
    assert healthcrawl_cli("run", "-q", config).exit_code == 0


def test_check_fail_on_and_json_formats(server, healthcrawl_cli):
    up, down = server.url("/up"), server.url("/down")
    assert healthcrawl_cli("check", up, "--fail-on", "any").exit_code == 0
    proc = healthcrawl_cli("check", up, down, "--fail-on", "failed", "--format", "json")
    assert proc.exit_code == 1, proc.stderr
    records = json.loads(proc.stdout)
    assert [(r["target"], r["ok"], r["status_code"]) for r in records] == [(up, True, 200), (down, False, 500)]
    assert records[1]["checks"][0] == {"name": "status", "ok": False, "detail": "status 500, expected 200-399"}
    proc = healthcrawl_cli("check", down, up, "--format", "jsonl")
    assert proc.exit_code == 0
    assert [json.loads(line)["target"] for line in proc.stdout.splitlines()] == [down, up]  # input order


def test_version_names_the_libraries_and_the_plugins_without_importing_requests():
    code = textwrap.dedent("""
        import sys
        from healthcrawl.entrypoint import main
        try:
            main(["--version"])
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
        print("requests imported:", "requests" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    version_line, imported = proc.stdout.splitlines()
    assert version_line.startswith("healthcrawl ")
    for part in ("Python ", "gevent ", "urllib3 ", " plugins)"):
        assert part in version_line
    assert imported == "requests imported: False"


def test_validate_rejects_a_missing_source_file_with_runs_message(tmp_path, healthcrawl_cli):
    config = write_config(tmp_path / "crawl.yaml", "sources: [{type: file, path: nosuch.txt}]\n")
    validated, ran = healthcrawl_cli("validate", config), healthcrawl_cli("run", config)
    assert validated.exit_code == ran.exit_code == 2
    assert validated.stderr == ran.stderr == f"error: sources[0]: path {tmp_path}/nosuch.txt cannot be read: No such file or directory\n"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("bogus://x", "error: sinks[0]: unknown database URL scheme: "),
        ("not a url", "error: sinks[0]: not a database URL: "),
        ("mysql+mysqldb://root@127.0.0.1/test", "error: sinks[0]: the database driver 'MySQLdb' is not installed"),
    ],
)
def test_validate_rejects_a_database_url_run_would_reject(tmp_path, healthcrawl_cli, url, message):
    config = write_config(tmp_path / "crawl.yaml", f"""
        sources: [{{type: list, targets: [example.com]}}]
        sinks: [{{type: sqlalchemy, url: "{url}"}}]
    """)
    if url.startswith("mysql+mysqldb") and importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("MySQLdb is installed here")
    validated, ran = healthcrawl_cli("validate", config), healthcrawl_cli("run", config)
    assert validated.exit_code == ran.exit_code == 2
    assert validated.stderr == ran.stderr
    assert validated.stderr.startswith(message) and len(validated.stderr.splitlines()) == 1


def test_validate_rejects_a_missing_sqlite_source_and_resolves_paths_against_the_configs_folder(tmp_path, healthcrawl_cli):
    config = write_config(tmp_path / "crawl.yaml", """
        sources: [{type: sql, url: "sqlite:///targets.db", table: targets}]
        sinks: [{type: sqlalchemy, url: "sqlite:///results.db", spool_dir: spool}]
    """)
    validated, ran = healthcrawl_cli("validate", config, cwd="/"), healthcrawl_cli("run", config, cwd="/")
    assert validated.exit_code == ran.exit_code == 2
    assert validated.stderr == ran.stderr == f"error: sources[0]: no SQLite database at {tmp_path}/targets.db\n"
    (tmp_path / "targets.db").touch()
    sink = Crawl(load_config(config)).sinks[0]
    assert sink.options["url"] == f"sqlite:///{tmp_path}/results.db"
    assert sink.options["spool_dir"] == f"{tmp_path}/spool"


def test_validate_connect_connects_to_the_database(tmp_path, healthcrawl_cli):
    port = free_port()  # nothing listens there
    config = write_config(tmp_path / "crawl.yaml", f"""
        sources: [{{type: list, targets: [example.com]}}]
        sinks: [{{type: sqlalchemy, url: "postgresql+psycopg2://postgres@127.0.0.1:{port}/test"}}]
    """)
    assert healthcrawl_cli("validate", config).exit_code == 0  # without --connect nothing is contacted
    proc = healthcrawl_cli("validate", "--connect", config)
    assert proc.exit_code == 1
    assert proc.stderr.startswith("error: sink 'sqlalchemy' cannot start: cannot reach the database: ")
    assert len(proc.stderr.splitlines()) == 1


def test_validate_connect_creates_no_sqlite_file(tmp_path, healthcrawl_cli):
    config = write_config(tmp_path / "crawl.yaml", """
        sources: [{type: list, targets: [example.com]}]
        sinks: [{type: sqlalchemy, url: "sqlite:///results.db"}, {type: sqlalchemy, url: "sqlite:///no/such/dir/x.db"}]
    """)
    proc = healthcrawl_cli("validate", "--connect", config)
    assert proc.exit_code == 1
    assert proc.stderr == f"error: sink 'sqlalchemy' cannot start: unable to open database file {tmp_path}/no/such/dir/x.db: no folder {tmp_path}/no/such/dir\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crawl.yaml"]


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path, healthcrawl_cli):
    config = write_config(tmp_path / "crawl.yaml", """\
        sources:
          - type: list
            targets: [a.example, b.example
        checks: []
    """)
    proc = healthcrawl_cli("validate", config)
    assert proc.exit_code == 2
    assert proc.stderr.startswith(f"error: {config}:4:7: not valid YAML: expected ',' or ']'")
    assert proc.stderr.rstrip().endswith("(while parsing a flow sequence at line 3, column 14)")


def test_every_bad_item_of_a_list_and_close_names_are_reported(tmp_path, healthcrawl_cli):
    config = write_config(tmp_path / "crawl.yaml", """
        crawl:
          timeot: 3
          nameservers: ["one", "127.0.0.1", "two"]
        sources: [{type: list, targets: [a.example]}]
        checks:
          - type: status
            expect: [2xx, 200-299, 5xx]
          - type: tls_expiri
        sinkz: []
    """)
    proc = healthcrawl_cli("validate", config)
    assert proc.exit_code == 2
    assert proc.stderr.splitlines() == [
        "error: sinkz: unknown section (did you mean 'sinks'?) (expected one of crawl, sources, checks, sinks)",
        "error: crawl.timeot: unknown key (did you mean 'timeout'?)",
        "error: checks[0].expect[0]: '2xx' is not a status code or a range such as 200-399",
        "error: checks[0].expect[2]: '5xx' is not a status code or a range such as 200-399",
        "error: checks[1].type: unknown check type 'tls_expiri' (did you mean 'tls_expiry'?) "
        "(known: body_match, header, json, redirect, response_time, status, tls, tls_expiry)",
    ]
    config.write_text("crawl: {nameservers: [one, 127.0.0.1, two]}\nsources: [{type: list, targets: [a.example]}]\n")
    assert healthcrawl_cli("validate", config).stderr.splitlines() == [
        "error: crawl.nameservers[0]: 'one' is not an \"ip\" or \"ip:port\" nameserver",
        "error: crawl.nameservers[2]: 'two' is not an \"ip\" or \"ip:port\" nameserver",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "--timeout", "0", "example.com"), "argument --timeout: must be more than 0, not 0"),
        (("check", "--timeout", "soon", "example.com"), "argument --timeout: not a number: 'soon'"),
        (("check", "--min-days", "-1", "example.com"), "argument --min-days: must be at least 0, not -1"),
        (("runs", "--limit", "0"), "argument --limit: must be at least 1, not 0"),
        (("check", "--fail-on", "sometimes", "example.com"), "argument --fail-on: invalid choice: 'sometimes'"),
    ],
)
def test_a_bad_flag_value_names_the_flag(healthcrawl_cli, args, message):
    proc = healthcrawl_cli(*args)
    assert proc.exit_code == 2
    assert message in proc.stderr.splitlines()[-1]


def test_examples_copy_prints_how_to_run_the_copy(tmp_path, healthcrawl_cli, monkeypatch):
    proc = healthcrawl_cli("examples", "copy", "offline-demo", cwd=tmp_path)
    assert proc.exit_code == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "copied offline-demo to offline-demo; edit offline-demo/crawl.yaml, then run it with:",
        "  healthcrawl examples run ./offline-demo",
    ]
    # The printed path names the copy, not the packaged example of the same name.
    monkeypatch.chdir(tmp_path)
    assert get_example("./offline-demo").path.resolve() == tmp_path / "offline-demo"
    proc = healthcrawl_cli("examples", "copy", "top-sites", "sites", cwd=tmp_path)
    assert proc.stdout.splitlines()[-1] == "  healthcrawl run sites/crawl.yaml"


def test_a_command_interrupted_by_ctrl_c_exits_130_without_a_traceback(register_plugin, healthcrawl_cli):
    class Waits(Command):
        name = "wait"
        help = "wait until interrupted"

        def run(self, args):
            raise KeyboardInterrupt  # what Ctrl-C raises in a command that is not a crawl

    class Plugin:
        @hookimpl
        def healthcrawl_register_commands(self, register):
            register(Waits)

    register_plugin(Plugin(), name="waiter")
    proc = healthcrawl_cli("wait")
    assert (proc.exit_code, proc.stderr) == (130, "")
