"""Local servers for the benchmarks: nginx (HTTP and HTTPS) and dnsmasq, from Debian, on loopback.

Each is installed with apt-get when missing and runs in the foreground as a child process
with its files in a temporary folder; leaving the ``with`` block stops it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import trustme

NGINX_BODY = "<html><head><title>ok</title></head><body>healthy</body></html>\n"


def ensure_debian_package(program: str, package: str) -> str:
    """The path of ``program``, installing ``package`` with apt-get first when it is missing."""
    for candidate in (shutil.which(program), f"/usr/sbin/{program}"):
        if candidate and Path(candidate).exists():
            return candidate
    print(f"installing {package} (apt-get)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)
    return f"/usr/sbin/{program}"


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


@contextlib.contextmanager
def nginx(ports: list[int], tls_ports: list[int], tls_addresses: list[str]) -> Iterator[str]:
    """Run nginx with one worker on ``ports`` (HTTP) and ``tls_ports`` (HTTPS); yields a CA bundle path.

    It listens on 0.0.0.0 so that every 127.x.y.z address reaches it, and refuses every
    non-loopback client. The certificate (from a throwaway trustme CA) names each of
    ``tls_addresses``; the CA bundle yielded is certifi's bundle plus that CA, like a
    system trust store that also trusts a private CA.
    """
    binary = ensure_debian_package("nginx", "nginx-light")
    import certifi

    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as folder:
        root = Path(folder)
        ca = trustme.CA()
        cert = ca.issue_cert(*tls_addresses)
        cert.private_key_and_cert_chain_pem.write_to_path(str(root / "server.pem"))
        bundle = root / "ca-bundle.pem"
        bundle.write_bytes(Path(certifi.where()).read_bytes() + ca.cert_pem.bytes())
        listens = [f"listen 0.0.0.0:{port} backlog=4096;" for port in ports]
        listens += [f"listen 0.0.0.0:{port} ssl backlog=4096;" for port in tls_ports]
        (root / "nginx.conf").write_text(
            f"""
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
    ssl_certificate {root}/server.pem;
    ssl_certificate_key {root}/server.pem;
    keepalive_requests 1000;
    server {{
        {' '.join(listens)}
        allow 127.0.0.0/8;
        deny all;
        location / {{ default_type text/html; return 200 '{NGINX_BODY.strip()}'; }}
    }}
}}
"""
        )
        process = subprocess.Popen([binary, "-c", str(root / "nginx.conf"), "-p", str(root)])
        try:
            for port in ports + tls_ports:
                wait_for_port(port, process)
            yield str(bundle)
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
