"""Local servers for the benchmarks: nginx (HTTP and HTTPS), dnsmasq and blackbox_exporter, from Debian, on loopback.

Each is installed with apt-get when missing and runs in the foreground as a child process
with its files in a temporary folder; leaving the ``with`` block stops it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Iterator

import trustme

NGINX_BODY = "<html><head><title>ok</title></head><body>healthy</body></html>\n"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def ensure_debian_package(program: str, package: str) -> str:
    """The path of ``program``, installing ``package`` with apt-get first when it is missing."""
    for candidate in (shutil.which(program), f"/usr/sbin/{program}"):
        if candidate and Path(candidate).exists():
            return candidate
    print(f"installing {package} (apt-get)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)
    return shutil.which(program) or f"/usr/sbin/{program}"


def ensure_echo_module() -> str:
    """The path of nginx's echo module (``echo_sleep``), installing it with apt-get when it is missing."""
    if not Path(ECHO_MODULE).exists():
        print("installing libnginx-mod-http-echo (apt-get)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "libnginx-mod-http-echo"], check=True)
    return ECHO_MODULE


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` and its direct children (nginx's workers)."""
    total = 0.0
    for stat in [Path(f"/proc/{pid}/stat")] + [Path(f"/proc/{child}/stat") for child in _children(pid)]:
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


@dataclass
class Nginx:
    """A running nginx: its master's pid (``cpu_seconds(pid)`` covers its worker) and the CAs that trust it."""

    pid: int
    bundle: str
    """certifi's CAs plus the private CA that signed nginx's certificate (a system store that trusts one more)."""
    private_ca: str
    """The private CA alone."""


@contextlib.contextmanager
def nginx(ports: list[int], tls_ports: list[int], tls_addresses: list[str], delay: float = 0.0) -> Iterator[Nginx]:
    """Run nginx with one worker on ``ports`` (HTTP) and ``tls_ports`` (HTTPS).

    It listens on 0.0.0.0 so that every 127.x.y.z address reaches it, and refuses every
    non-loopback client. Each of ``tls_addresses`` has its own certificate (from a throwaway
    trustme CA), chosen by the address a connection came to, as every host has its own; the CA bundle is certifi's bundle plus that CA, like a system trust
    store that also trusts a private CA. With ``delay`` (seconds) every response is sent that
    long after the request arrived (the echo module's ``echo_sleep``, a timer in nginx's
    event loop: a far-away host at no cost to the machine).
    """
    binary = ensure_debian_package("nginx", "nginx-light")
    import certifi

    load_module = f"load_module {ensure_echo_module()};" if delay else ""
    respond = (
        f"echo_sleep {delay}; echo '{NGINX_BODY.strip()}';"
        if delay
        else f"return 200 '{NGINX_BODY.strip()}';"
    )

    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as folder:
        root = Path(folder)
        ca = trustme.CA()
        (root / "certs").mkdir()
        for address in tls_addresses:
            ca.issue_cert(address).private_key_and_cert_chain_pem.write_to_path(str(root / "certs" / f"{address}.pem"))
        for path in [root, root / "certs", *(root / "certs").iterdir()]:  # nginx's worker reads them per handshake
            path.chmod(0o755 if path.is_dir() else 0o644)
        bundle = root / "ca-bundle.pem"
        bundle.write_bytes(Path(certifi.where()).read_bytes() + ca.cert_pem.bytes())
        ca.cert_pem.write_to_path(str(root / "private-ca.pem"))
        listens = [f"listen 0.0.0.0:{port} backlog=4096;" for port in ports]
        listens += [f"listen 0.0.0.0:{port} ssl backlog=4096;" for port in tls_ports]
        (root / "nginx.conf").write_text(
            f"""
{load_module}
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    ssl_certificate {root}/certs/$server_addr.pem;
    ssl_certificate_key {root}/certs/$server_addr.pem;
    keepalive_requests 1000;
    server {{
        {' '.join(listens)}
        allow 127.0.0.0/8;
        deny all;
        location / {{ default_type text/html; {respond} }}
    }}
}}
"""
        )
        process = subprocess.Popen([binary, "-c", str(root / "nginx.conf"), "-p", str(root)])
        try:
            for port in ports + tls_ports:
                wait_for_port(port, process)
            yield Nginx(process.pid, str(bundle), str(root / "private-ca.pem"))
        finally:
            process.terminate()
            process.wait(10)


@contextlib.contextmanager
def dnsmasq(port: int, records: dict[str, str]) -> Iterator[None]:
    """Run dnsmasq on 127.0.0.1:``port`` answering ``records`` (name -> IPv4) and nothing else."""
    binary = ensure_debian_package("dnsmasq", "dnsmasq-base")
    with tempfile.TemporaryDirectory(prefix="bench-dnsmasq-") as folder:
        hosts = Path(folder) / "hosts"
        hosts.write_text("".join(f"{address} {name}\n" for name, address in records.items()))
        process = subprocess.Popen(
            [
                binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                f"--addn-hosts={hosts}", "--listen-address=127.0.0.1", "--bind-interfaces",
                f"--port={port}", "--cache-size=0", "--user=root", "--pid-file=",
                "--log-facility=-", "--quiet-dhcp", "--local=/bench.test/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            if process.poll() is not None:
                raise RuntimeError(f"dnsmasq exited with {process.returncode}")
            yield
        finally:
            process.terminate()
            process.wait(10)


@contextlib.contextmanager
def blackbox_exporter(port: int, ca_bundle: str, timeout: float = 10.0) -> Iterator[int]:
    """Run Prometheus blackbox_exporter on 127.0.0.1:``port``; yields its pid.

    Its config has two modules, ``http_2xx`` and ``https_2xx`` (the latter trusting
    ``ca_bundle``: Go reads that file on every probe, so give it the one CA it needs), both IPv4 and ``timeout`` seconds per probe.
    """
    binary = ensure_debian_package("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
    with tempfile.TemporaryDirectory(prefix="bench-blackbox-") as folder:
        config = Path(folder) / "blackbox.yml"
        config.write_text(
            f"""
modules:
  http_2xx:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
  https_2xx:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: {ca_bundle}
"""
        )
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process)
            yield process.pid
        finally:
            process.terminate()
            process.wait(10)
