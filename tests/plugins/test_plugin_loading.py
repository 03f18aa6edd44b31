"""Third-party plugins found through real entry points: listing, disabling, and every way loading fails.

Each test lays out an installed distribution (a module plus its ``.dist-info`` with a ``healthcrawl``
entry point) in a temporary folder, puts the folder on ``PYTHONPATH`` and runs the real command.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from healthcrawl import __version__

GOOD_PLUGIN = """
    from healthcrawl import Check, hookimpl


    class Teapot(Check):
        type_name = "teapot"

        def evaluate(self, snapshot):
            return self.outcome(snapshot.status_code == 418)


    @hookimpl
    def healthcrawl_register_checks(register):
        register(Teapot)


    @hookimpl
    def healthcrawl_result(result):
        pass
"""


def install(site, module, source, entry_point=None, dist="hc-test-plugin", version="1.2.3"):
    """Lay out ``module`` as an installed distribution advertising it as entry point ``entry_point``."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[healthcrawl]\n{entry_point or module} = {module}\n")


def healthcrawl(site, *args, disable=None):
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("HEALTHCRAWL_DISABLE_PLUGINS", None)
    if disable is not None:
        env["HEALTHCRAWL_DISABLE_PLUGINS"] = disable
    return subprocess.run([sys.executable, "-m", "healthcrawl", *args], capture_output=True, text=True, env=env)


def plugin_blocks(text):
    """The lines of each plugin's entry: its name and version, then indented details."""
    block = []
    for line in text.splitlines():
        if not line.startswith(" ") and block:
            yield block
            block = []
        block.append(line)
    if block:
        yield block


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    return folder


def test_plugins_lists_an_entry_point_plugin_with_version_source_types_and_hooks(site):
    install(site, "hc_teapot", GOOD_PLUGIN, entry_point="teapot")
    proc = healthcrawl(site, "plugins")
    assert proc.returncode == 0, proc.stderr
    blocks = {lines[0]: lines[1:] for lines in plugin_blocks(proc.stdout)}
    assert blocks["teapot 1.2.3"] == [
        "  source: entry point teapot = hc_teapot (distribution hc-test-plugin)",
        "  types:  check:teapot",
        "  hooks:  healthcrawl_register_checks, healthcrawl_result",
    ]
    assert blocks[f"healthcrawl.plugins.checks.status {__version__}"][:2] == [
        "  source: built-in",
        "  types:  check:status",
    ]


def test_an_entry_point_plugin_works_in_a_crawl(site, http_server, tmp_path):
    install(site, "hc_teapot", GOOD_PLUGIN, entry_point="teapot")
    http_server.route("/tea", status=418)
    config = tmp_path / "crawl.yaml"
    config.write_text(
        f"sources: [{{type: list, targets: ['{http_server.url('/tea')}']}}]\n"
        f"checks: [{{type: teapot}}]\n"
        f"sinks: [{{type: jsonl, path: '{tmp_path / 'out.jsonl'}'}}]\n"
    )
    proc = healthcrawl(site, "run", str(config))
    assert proc.returncode == 0, proc.stderr
    assert '"checks": [{"name": "teapot", "ok": true' in (tmp_path / "out.jsonl").read_text()


def test_a_plugin_that_fails_to_import_stops_startup_naming_it_and_its_entry_point(site):
    install(site, "hc_broken", "import hc_no_such_dependency\n", entry_point="broken")
    proc = healthcrawl(site, "plugins")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: plugin 'broken' failed to load from entry point broken = hc_broken (distribution hc-test-plugin): "
        "ModuleNotFoundError: No module named 'hc_no_such_dependency'\n"
    )
    assert proc.stdout == ""


def test_a_plugin_whose_registration_raises_stops_startup_naming_it(site):
    install(site, "hc_raising", """
        from healthcrawl import hookimpl

        @hookimpl
        def healthcrawl_register_sinks(register):
            raise RuntimeError("sink driver missing")
    """, entry_point="raising")
    proc = healthcrawl(site, "validate", "no-such.yaml")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: plugin 'raising' (entry point raising = hc_raising (distribution hc-test-plugin)) failed in "
        "healthcrawl_register_sinks: RuntimeError: sink driver missing\n"
    )


@pytest.mark.parametrize("source, message", [
    ("from healthcrawl import hookimpl\n@hookimpl\ndef healthcrawl_regster_checks(register):\n    pass\n",
     "implements healthcrawl_regster_checks, which is not a healthcrawl hook"),
    ("from healthcrawl import hookimpl\n@hookimpl\ndef healthcrawl_result(reslt):\n    pass\n",
     "Argument(s) {'reslt'} are declared in the hookimpl but can not be found in the hookspec"),
    ("from healthcrawl import hookimpl\n@hookimpl(wrapper=True)\ndef healthcrawl_result(result):\n    return (yield)\n",
     "implements healthcrawl_result as a wrapper, which healthcrawl does not support there"),
])
def test_a_plugin_with_a_wrong_hook_stops_startup_naming_it(site, source, message):
    install(site, "hc_typo", source, entry_point="typo")
    proc = healthcrawl(site, "plugins")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: plugin 'typo' ") and message in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_two_plugins_registering_one_type_name_is_an_error_naming_both(site):
    install(site, "hc_status", """
        from healthcrawl import Check, hookimpl

        class MyStatus(Check):
            type_name = "status"

        @hookimpl
        def healthcrawl_register_checks(register):
            register(MyStatus)
    """, entry_point="my-status")
    proc = healthcrawl(site, "plugins")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: check type 'status' is registered twice: by plugin 'healthcrawl.plugins.checks.status' "
        "(StatusCheck) and by plugin 'my-status' (MyStatus)\n"
    )


def test_disable_plugins_skips_a_broken_plugin_and_a_built_in_one(site, tmp_path):
    install(site, "hc_broken", "raise ImportError('broken on purpose')\n", entry_point="broken")
    proc = healthcrawl(site, "plugins", disable="broken, healthcrawl.plugins.sinks.jsonl,brokn")
    assert proc.returncode == 0, proc.stderr
    assert "broken" not in proc.stdout.split("disabled by")[0]
    assert "sink:jsonl" not in proc.stdout and "sink:sqlalchemy" in proc.stdout
    assert proc.stdout.splitlines()[-1] == (
        "disabled by HEALTHCRAWL_DISABLE_PLUGINS: broken, brokn (no such plugin), healthcrawl.plugins.sinks.jsonl"
    )
    config = tmp_path / "crawl.yaml"
    config.write_text("sources: [{type: list, targets: [example.com]}]\nsinks: [{type: jsonl, path: out.jsonl}]\n")
    proc = healthcrawl(site, "validate", str(config), disable="broken,healthcrawl.plugins.sinks.jsonl")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: sinks[0].type: unknown sink type 'jsonl'")


def test_one_plugin_name_from_two_distributions_is_an_error(site):
    install(site, "hc_one", GOOD_PLUGIN, entry_point="tea", dist="hc-one")
    install(site, "hc_two", GOOD_PLUGIN, entry_point="tea", dist="hc-two")
    proc = healthcrawl(site, "plugins")
    assert proc.returncode == 2
    assert "plugin name 'tea' is taken twice" in proc.stderr and "hc-one" in proc.stderr and "hc-two" in proc.stderr
