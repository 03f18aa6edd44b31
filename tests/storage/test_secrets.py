"""Secrets at rest: a password planted in the proxy URL and the database URL, and a bare token planted as a target
URL's user name (``https://TOKEN@host/``), show up in no output and no table."""

import subprocess
import sys
import textwrap

from sqlalchemy import inspect, make_url, select, table, text

from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.masking import mask_secrets
from healthcrawl.testing.servers import HTTPTestServer, free_port

PROXY_PASSWORD = "planted-proxy-pw-6e1f"
DATABASE_PASSWORD = "planted-db-pw-93ab"
BARE_TOKEN = "planted-token-5c7d"


def healthcrawl(*args, cwd):
    return subprocess.run([sys.executable, "-m", "healthcrawl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180)


def every_stored_value(url):
    engine = open_engine(url)
    values = []
    with engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            values += [str(tuple(row)) for row in connection.execute(select(text("*")).select_from(table(name)))]
    engine.dispose()
    return values


def test_a_planted_password_is_in_no_output_and_no_table(db_url, tmp_path):
    sink_url = make_url(db_url)
    if sink_url.get_backend_name() == "postgresql":  # the test server trusts loopback: a password is ignored
        sink_url = sink_url.set(password=DATABASE_PASSWORD)
    sink_url = sink_url.render_as_string(hide_password=False)
    with HTTPTestServer() as server:
        config = tmp_path / "crawl.yaml"
        with_token = server.url("/c").replace("http://", f"http://{BARE_TOKEN}@")
        config.write_text(textwrap.dedent(f"""
            crawl: {{proxy: "http://crawler:{PROXY_PASSWORD}@127.0.0.1:{free_port()}", timeout: 5, workers: 1}}
            sources: [{{type: list, targets: ["{server.url('/a')}", "{server.url('/b')}", "{with_token}"]}}]
            checks: [{{type: status}}]
            sinks: [{{type: sqlalchemy, url: "{sink_url}", spool_dir: "{tmp_path}/spool"}}]
        """))
        outputs = [healthcrawl("run", str(config), cwd=tmp_path)]
    assert "run " in outputs[0].stdout, outputs[0].stderr
    run_id = outputs[0].stdout.split("run ", 1)[1].split()[0]
    outputs += [healthcrawl("runs", "--config", str(config), cwd=tmp_path),
                healthcrawl("show", run_id, "--config", str(config), cwd=tmp_path)]
    assert all(run_id[:8] in proc.stdout for proc in outputs[1:]), outputs
    stored = every_stored_value(db_url)
    assert any("crawler:***@127.0.0.1" in value for value in stored)  # the proxy is stored, masked
    assert any("http://***@127.0.0.1" in value for value in stored)  # so is the target with a token
    for where in [proc.stdout + proc.stderr for proc in outputs] + stored:
        assert PROXY_PASSWORD not in where and DATABASE_PASSWORD not in where and BARE_TOKEN not in where


def test_options_marked_secret_are_masked_wherever_they_are_nested():
    from marshmallow import Schema, fields

    class Auth(Schema):
        token = fields.String(metadata={"secret": True})
        user = fields.String()

    class Options(Schema):
        auth = fields.Nested(Auth)
        mirrors = fields.List(fields.Nested(Auth))
        upstream = fields.String()
        fallback = fields.String()

    values = {"auth": {"token": "t0", "user": "u"}, "mirrors": [{"token": "t1"}], "upstream": "http://a:b@h/",
              "fallback": "https://T0KEN@h/"}
    assert mask_secrets(values, Options()) == {
        "auth": {"token": "***", "user": "u"}, "mirrors": [{"token": "***"}], "upstream": "http://a:***@h/",
        "fallback": "https://***@h/",
    }
