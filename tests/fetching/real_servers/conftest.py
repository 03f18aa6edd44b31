"""Real web servers from Debian packages, started on loopback: nginx, Apache, HAProxy, lighttpd, Caddy and
``openssl s_server`` (fixtures ``servers``, ``openssl_server`` and ``credentials``).

Each runs in the foreground as a child process with its config, certificates and files in a
folder of its own, and answers the same kinds of cases: basic auth (user ``ops``, password
``PASSWORD``), a redirect to https, an empty reply, a HEAD-only path, client certificates
(mTLS) and HTTP/2 only, as far as the server can express them. A missing binary skips the
tests that need it, or fails them under ``HEALTHCRAWL_REQUIRE_SERVICES=1`` (``.ci/run``
installs the packages).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, NoReturn

import pytest

from healthcrawl.testing.certs import CertAuthority

PASSWORD = "Pa55-real-servers"
USER = "ops"
BODY = "ok\n"
STARTUP_SECONDS = 20.0
PACKAGES = {
    "nginx": "nginx", "apache2": "apache2", "haproxy": "haproxy", "lighttpd": "lighttpd",
    "caddy": "caddy", "openssl": "openssl", "htpasswd": "apache2-utils",
}
"""Debian packages by program (``.ci/run`` installs them, and ``lighttpd-mod-openssl``)."""


@dataclass
class RunningServer:
    """A started server: its URL per endpoint name (``ok``, ``auth``, ``redirect``, ``mtls`` ...)."""

    name: str
    urls: dict[str, str] = field(default_factory=dict)


def require_program(program: str) -> str:
    """The path of ``program``; skip the test without it, or fail under ``HEALTHCRAWL_REQUIRE_SERVICES=1``."""
    for candidate in (shutil.which(program), f"/usr/sbin/{program}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing(f"{program} is not installed (apt-get install {PACKAGES[program]})")


def require_file(path: str, package: str) -> None:
    """Skip the test when ``path`` (part of ``package``) is missing, or fail under ``HEALTHCRAWL_REQUIRE_SERVICES=1``."""
    if not os.path.exists(path):
        _missing(f"{path} is missing (apt-get install {package})")


def _missing(message: str) -> NoReturn:
    if os.environ.get("HEALTHCRAWL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; HEALTHCRAWL_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server_folder(ca: CertAuthority) -> Iterator[Path]:
    """A folder every user can read (Apache's children run as www-data) holding the certificates and files."""
    folder = Path(tempfile.mkdtemp(prefix="healthcrawl-real-"))
    try:
        folder.chmod(0o755)
        ca.server_certificate_path(folder)  # server.pem: certificate, chain and key in one file
        (folder / "ca.pem").write_bytes(ca.ca_pem)
        www = folder / "www"
        for path in ("index.html", "auth/index.html", "head-only/index.html"):
            (www / path).parent.mkdir(parents=True, exist_ok=True)
            (www / path).write_text(BODY)
        for path in folder.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running(argv: list[str], ports: list[int], folder: Path, env: dict | None = None) -> Iterator[None]:
    """Run ``argv`` until the block ends; wait until every port accepts connections first."""
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env={**os.environ, **(env or {})})
    try:
        for port in ports:
            _wait_for_port(port, process, folder)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def _wait_for_port(port: int, process: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}: {log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{process.args[0]}: nothing listens on port {port} after {STARTUP_SECONDS} s")


# One function per server: yields a RunningServer whose urls name the endpoints it has.


def _usual_urls(http: int, mtls: int) -> dict[str, str]:
    """The endpoints most servers have: a plain page, a redirect to https, basic auth, mTLS."""
    return {
        "ok": f"http://127.0.0.1:{http}/", "redirect": f"http://127.0.0.1:{http}/redirect",
        "auth": f"http://127.0.0.1:{http}/auth/", "mtls": f"https://localhost:{mtls}/",
    }


@contextlib.contextmanager
def nginx(ca: CertAuthority) -> Iterator[RunningServer]:
    binary = require_program("nginx")
    http, https, mtls = free_port(), free_port(), free_port()
    with server_folder(ca) as d:
        (d / "htpasswd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        temp_paths = " ".join(f"{kind}_temp_path {d}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (d / "nginx.conf").write_text(f"""
worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off; {temp_paths}
    ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.pem;
    root {d}/www;
    server {{
        listen 127.0.0.1:{http};
        location = / {{ return 200 'ok'; }}
        location = /empty {{ return 444; }}
        location = /redirect {{ return 301 https://localhost:{https}/; }}
        location /auth/ {{ auth_basic "test"; auth_basic_user_file {d}/htpasswd; }}
        location /head-only/ {{ limit_except HEAD {{ deny all; }} }}
    }}
    server {{ listen 127.0.0.1:{https} ssl; location / {{ return 200 'ok'; }} }}
    server {{
        listen 127.0.0.1:{mtls} ssl;
        ssl_client_certificate {d}/ca.pem; ssl_verify_client on;
        location / {{ return 200 'ok'; }}
    }}
}}
""")
        with running([binary, "-c", str(d / "nginx.conf"), "-p", str(d)], [http, https, mtls], d):
            yield RunningServer("nginx", {
                "ok": f"http://127.0.0.1:{http}/", "https": f"https://localhost:{https}/",
                "empty": f"http://127.0.0.1:{http}/empty", "redirect": f"http://127.0.0.1:{http}/redirect",
                "auth": f"http://127.0.0.1:{http}/auth/", "head_only": f"http://127.0.0.1:{http}/head-only/",
                "mtls_http_status": f"https://localhost:{mtls}/",
            })


@contextlib.contextmanager
def apache(ca: CertAuthority) -> Iterator[RunningServer]:
    binary = require_program("apache2")
    htpasswd = require_program("htpasswd")
    http, https = free_port(), free_port()
    modules = ["mpm_event", "authz_core", "authn_core", "authn_file", "auth_basic", "authz_user", "alias",
               "rewrite", "ssl", "socache_shmcb", "dir", "mime"]
    with server_folder(ca) as d:
        subprocess.run([htpasswd, "-cbB", str(d / "htpasswd"), USER, PASSWORD], check=True, capture_output=True)
        (d / "htpasswd").chmod(0o644)
        loads = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in modules)
        (d / "apache2.conf").write_text(f"""
ServerRoot "{d}"
ServerName localhost
{loads}
User www-data
Group www-data
Listen 127.0.0.1:{http}
Listen 127.0.0.1:{https}
PidFile {d}/httpd.pid
Mutex file:{d} default
ErrorLog {d}/error.log
DefaultRuntimeDir {d}
TypesConfig /etc/mime.types
DocumentRoot "{d}/www"
DirectoryIndex index.html
<Directory "{d}/www">
    Require all granted
</Directory>
<Location /auth/>
    AuthType Basic
    AuthName test
    AuthUserFile {d}/htpasswd
    Require valid-user
</Location>
RewriteEngine on
RewriteCond %{{REQUEST_METHOD}} !^HEAD$
RewriteRule ^/head-only/ - [R=405]
Redirect 301 /redirect https://localhost:{https}/
<VirtualHost 127.0.0.1:{https}>
    SSLEngine on
    SSLCertificateFile {d}/server.pem
    SSLCACertificateFile {d}/ca.pem
    SSLVerifyClient require
</VirtualHost>
""")
        with running([binary, "-f", str(d / "apache2.conf"), "-DFOREGROUND"], [http, https], d):
            yield RunningServer("apache", {**_usual_urls(http, https), "head_only": f"http://127.0.0.1:{http}/head-only/"})


@contextlib.contextmanager
def haproxy(ca: CertAuthority) -> Iterator[RunningServer]:
    binary = require_program("haproxy")
    http, h2, mtls = free_port(), free_port(), free_port()
    with server_folder(ca) as d:
        (d / "haproxy.cfg").write_text(f"""
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
userlist ops
    user {USER} insecure-password {PASSWORD}
frontend web
    bind 127.0.0.1:{http}
    http-request auth realm test if {{ path_beg /auth/ }} !{{ http_auth(ops) }}
    http-request redirect location https://localhost:{mtls}/ code 301 if {{ path /redirect }}
    http-request return status 200 content-type text/plain string ok
frontend h2only
    bind 127.0.0.1:{h2} proto h2
    http-request return status 200 content-type text/plain string ok
frontend mtls
    bind 127.0.0.1:{mtls} ssl crt {d}/server.pem ca-file {d}/ca.pem verify required
    http-request return status 200 content-type text/plain string ok
""")
        with running([binary, "-db", "-f", str(d / "haproxy.cfg")], [http, h2, mtls], d):
            yield RunningServer("haproxy", {**_usual_urls(http, mtls), "h2_only": f"http://127.0.0.1:{h2}/"})


@contextlib.contextmanager
def lighttpd(ca: CertAuthority) -> Iterator[RunningServer]:
    binary = require_program("lighttpd")
    require_file("/usr/lib/lighttpd/mod_openssl.so", "lighttpd-mod-openssl")
    http, mtls = free_port(), free_port()
    with server_folder(ca) as d:
        (d / "users").write_text(f"{USER}:{PASSWORD}\n")
        (d / "users").chmod(0o644)
        (d / "lighttpd.conf").write_text(f"""
server.modules = ("mod_auth", "mod_authn_file", "mod_redirect", "mod_openssl")
server.document-root = "{d}/www"
server.bind = "127.0.0.1"
server.port = {http}
server.errorlog = "{d}/error.log"
index-file.names = ("index.html")
auth.backend = "plain"
auth.backend.plain.userfile = "{d}/users"
auth.require = ("/auth/" => ("method" => "basic", "realm" => "test", "require" => "valid-user"))
url.redirect = ("^/redirect$" => "https://localhost:{mtls}/")
url.redirect-code = 301
$SERVER["socket"] == "127.0.0.1:{mtls}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{d}/server.pem"
    ssl.ca-file = "{d}/ca.pem"
    ssl.verifyclient.activate = "enable"
    ssl.verifyclient.enforce = "enable"
}}
""")
        with running([binary, "-D", "-f", str(d / "lighttpd.conf")], [http, mtls], d):
            yield RunningServer("lighttpd", _usual_urls(http, mtls))


@contextlib.contextmanager
def caddy(ca: CertAuthority) -> Iterator[RunningServer]:
    binary = require_program("caddy")
    http, mtls = free_port(), free_port()
    with server_folder(ca) as d:
        hashed = subprocess.run([binary, "hash-password", "--plaintext", PASSWORD], check=True, capture_output=True,
                                text=True).stdout.strip()
        (d / "Caddyfile").write_text(f"""
{{
    admin off
    auto_https off
    storage file_system {d}/storage
}}
http://127.0.0.1:{http} {{
    redir /redirect https://localhost:{mtls}/ 301
    basicauth /auth/* {{
        {USER} {hashed}
    }}
    respond "ok" 200
}}
https://localhost:{mtls} {{
    tls {d}/server.pem {d}/server.pem {{
        client_auth {{
            mode require_and_verify
            trusted_ca_cert_file {d}/ca.pem
        }}
    }}
    respond "ok" 200
}}
""")
        env = {"HOME": str(d), "XDG_DATA_HOME": str(d), "XDG_CONFIG_HOME": str(d)}
        with running([binary, "run", "--config", str(d / "Caddyfile"), "--adapter", "caddyfile"], [http, mtls], d, env):
            yield RunningServer("caddy", _usual_urls(http, mtls))


@contextlib.contextmanager
def openssl_s_server(ca: CertAuthority, *options: str) -> Iterator[RunningServer]:
    """``openssl s_server -www`` with ``options`` (e.g. ``-alpn h2``, ``-Verify 1``, ``-tls1_2``)."""
    binary = require_program("openssl")
    port = free_port()
    with server_folder(ca) as d:
        argv = [binary, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(d / "server.pem"),
                "-CAfile", str(d / "ca.pem"), "-www", "-quiet", "-naccept", "1000", *options]
        with running(argv, [port], d):
            yield RunningServer("openssl", {"url": f"https://localhost:{port}/"})


SERVERS: dict[str, Callable[[CertAuthority], contextlib.AbstractContextManager[RunningServer]]] = {
    "nginx": nginx, "apache": apache, "haproxy": haproxy, "lighttpd": lighttpd, "caddy": caddy,
}


@pytest.fixture(scope="module")
def servers(healthcrawl_ca) -> Iterator[Callable[[str], RunningServer]]:
    """``servers(name)``: that real server, started on first use and kept for the test module."""
    with contextlib.ExitStack() as stack:
        started: dict[str, RunningServer] = {}

        def get(name: str) -> RunningServer:
            if name not in started:
                started[name] = stack.enter_context(SERVERS[name](healthcrawl_ca))
            return started[name]

        yield get


@pytest.fixture
def openssl_server(healthcrawl_ca) -> Iterator[Callable[..., RunningServer]]:
    """``openssl_server(*options)``: a started ``openssl s_server -www`` with those options, stopped at teardown."""
    with contextlib.ExitStack() as stack:
        yield lambda *options: stack.enter_context(openssl_s_server(healthcrawl_ca, *options))


@pytest.fixture
def credentials() -> tuple[str, str]:
    """The (user, password) every real server's basic-auth path accepts."""
    return USER, PASSWORD
