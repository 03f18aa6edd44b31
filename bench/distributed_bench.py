"""Benchmark: the same targets through the local executor and through 1 and 2 Celery worker processes.

One command (``python bench/distributed_bench.py``, needs ``pip install -e '.[distributed]'`` and a
RabbitMQ on 127.0.0.1:5672 with the guest account): starts nginx (one worker) on loopback, writes N
targets, and runs ``healthcrawl run`` on them locally (``crawl.workers: 1``) and distributed over a
fresh RabbitMQ virtual host with 1, then 2 ``healthcrawl worker --processes 1`` processes, every run
into its own SQLite file. Prints, side by side: checks/s, CPU per target (coordinator plus workers),
coordinator CPU per result, RabbitMQ's CPU per chunk, and the time from a ``kill -9`` of a worker
to its chunk being redelivered to the other one.

Then the cost of host shards: the same number of targets spread over 64 loopback hosts, with a
per-host limit that never binds (so chunks go through the shard queues), on 2 worker processes with
``host_shards`` 1 (one queue: one process at a time) and 256 (chunks/s against the shared queue's).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_servers import free_port, nginx  # noqa: E402

from healthcrawl.distributed.broker import host_shard  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672"


@dataclass
class Measure:
    name: str
    seconds: float
    coordinator_cpu: float
    worker_cpu: float
    broker_cpu: float
    targets: int
    chunks: int

    def row(self) -> str:
        per_chunk = f"{self.broker_cpu / self.chunks * 1000:8.2f}" if self.chunks else "       -"
        return (
            f"{self.name:<18} {self.targets / self.seconds:9.0f} {self.chunks / self.seconds:9.1f} "
            f"{(self.coordinator_cpu + self.worker_cpu) / self.targets * 1e6:10.0f} "
            f"{self.coordinator_cpu / self.targets * 1e6:10.0f} {per_chunk}"
        )


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rabbitmq_pid() -> int:
    status = subprocess.run(["rabbitmqctl", "status"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"OS PID: (\d+)", status).group(1))


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)


def start_workers(broker: str, count: int, folder: Path, host_shards: int = 256) -> list[subprocess.Popen]:
    workers = []
    for index in range(count):
        log = open(folder / f"worker-{index}.log", "wb")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "healthcrawl", "worker", "--broker", broker, "--processes", "1",
             "--host-shards", str(host_shards), "--loglevel", "WARNING"],
            stdout=log, stderr=subprocess.STDOUT,
        ))
    time.sleep(5)  # a worker connects in about a second; this bench does not need a tighter bound
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a warm shutdown that hangs (seen under load): not what is measured
            print(f"worker {worker.pid} still running 60 s after SIGTERM; killed", file=sys.stderr)
            worker.kill()
            worker.wait()


def write_config(
    folder: Path, name: str, targets: list[str], concurrency: int, distributed: dict | None, **crawl_settings,
) -> Path:
    crawl = {"concurrency": concurrency, "workers": 1, **crawl_settings}
    if distributed:
        crawl["distributed"] = distributed
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "crawl": crawl,
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
        "sinks": [{"type": "sqlalchemy", "url": f"sqlite:///{folder / name}.db"}],
    }))
    return path


def timed_run(config: Path, workers: list[subprocess.Popen], broker_pid: int) -> tuple[float, float, float, float]:
    """(seconds, coordinator CPU, workers' CPU, broker CPU) of one ``healthcrawl run``."""
    workers_before = sum(process_cpu(w.pid) for w in workers)
    broker_before = process_cpu(broker_pid)
    started = time.perf_counter()
    coordinator = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", "-q", str(config)])
    _, status, usage = os.wait4(coordinator.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{config.name}: healthcrawl run failed")
    return (
        seconds, usage.ru_utime + usage.ru_stime, sum(process_cpu(w.pid) for w in workers) - workers_before,
        process_cpu(broker_pid) - broker_before,
    )


def redelivery_seconds(broker: str, folder: Path, targets: list[str], concurrency: int, chunk_size: int) -> float:
    """Seconds from a ``kill -9`` of one of two workers to the other one logging a redelivered chunk."""
    workers = start_workers(broker, 2, folder)
    log = folder / "worker-1.log"
    config = write_config(folder, "kill", targets, concurrency, {"broker": broker, "chunk_size": chunk_size})
    coordinator = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", "-q", str(config)])
    time.sleep(3)
    workers[0].send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    while "was redelivered" not in log.read_text(errors="replace"):
        if time.perf_counter() - killed > 120:
            raise SystemExit("no redelivery within 120 s")
        time.sleep(0.01)
    seconds = time.perf_counter() - killed
    coordinator.wait(timeout=600)
    stop_workers(workers[1:])
    return seconds


def shard_chunks(urls: list[str], host_shards: int, chunk_size: int) -> int:
    """The chunks the coordinator sends for ``urls``: each shard's targets in chunks of ``chunk_size``."""
    per_shard = Counter(host_shard(url, host_shards) for url in urls)
    return sum(-(-count // chunk_size) for count in per_shard.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--chunk-size", type=int, default=200)
    args = parser.parse_args()

    vhost = f"healthcrawl-bench-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    broker = f"{RABBITMQ}/{vhost}"
    broker_pid = rabbitmq_pid()
    port = free_port()
    chunks = -(-args.targets // args.chunk_size)
    try:
        with tempfile.TemporaryDirectory() as tmp, nginx([port], [free_port()], ["127.0.0.1"]):
            folder = Path(tmp)
            targets = [f"http://127.0.0.1:{port}/?i={i}" for i in range(args.targets)]
            distributed = {"broker": broker, "chunk_size": args.chunk_size}
            measures = []
            config = write_config(folder, "local", targets, args.concurrency, None)
            measures.append(Measure("local", *timed_run(config, [], broker_pid), args.targets, 0))
            for count in (1, 2):
                workers = start_workers(broker, count, folder)
                config = write_config(folder, f"workers-{count}", targets, args.concurrency, distributed)
                measures.append(Measure(f"{count} worker{'s' * (count > 1)}", *timed_run(config, workers, broker_pid), args.targets, chunks))
                stop_workers(workers)
            redelivery = redelivery_seconds(broker, folder, targets, args.concurrency, args.chunk_size)
            hosts = [f"http://127.0.0.{1 + i % 64}:{port}/?i={i}" for i in range(args.targets)]
            for label, shards in (("shared", None), ("1 shard", 1), ("256 shards", 256)):
                workers = start_workers(broker, 2, folder, shards or 256)
                if shards is None:
                    config = write_config(folder, "hosts", hosts, args.concurrency, distributed)
                    sent = chunks
                else:  # a per-host limit that never binds: it only sends the chunks through the shard queues
                    config = write_config(folder, f"shards-{shards}", hosts, args.concurrency,
                                          {**distributed, "host_shards": shards}, per_host_concurrency=args.concurrency)
                    sent = shard_chunks(hosts, shards, args.chunk_size)
                measures.append(Measure(f"2 w, 64 h, {label}", *timed_run(config, workers, broker_pid), args.targets, sent))
                stop_workers(workers)
    finally:
        rabbitmqctl("delete_vhost", vhost)

    print(f"{args.targets} targets, concurrency {args.concurrency}, chunks of {args.chunk_size}, {os.cpu_count()} CPUs")
    print(f"{'executor':<18} {'checks/s':>9} {'chunks/s':>9} {'CPU us/t':>10} {'coord us/r':>10} {'MQ ms/chunk':>8}")
    for measure in measures:
        print(measure.row())
    print(f"kill -9 of a worker to its chunk redelivered: {redelivery:.2f} s")


if __name__ == "__main__":
    main()
