"""``healthcrawl worker`` (run Celery workers on a crawl machine) and ``healthcrawl workers`` (who is connected).

Both run under gevent's monkey patch, applied by the ``healthcrawl`` entry point before any
command is parsed: Celery would patch only with ``-P gevent`` literally on its own command line.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

import gevent

from healthcrawl import Command, ConfigError
from healthcrawl.configuration.settings import MAX_HOST_SHARDS, DistributedSettings
from healthcrawl.target_parsing import mask_credentials

BROKER_VARIABLE = "HEALTHCRAWL_BROKER"


def add_broker_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", default=os.environ.get(BROKER_VARIABLE), metavar="URL",
        help=f"amqp:// URL of the RabbitMQ broker (default: ${BROKER_VARIABLE})",
    )


def add_host_shards_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host-shards", type=int, default=DistributedSettings.host_shards, metavar="N",
        help="shard queues of runs with per-host limits; must equal their crawl.distributed.host_shards "
             f"(default {DistributedSettings.host_shards})",
    )


def checked_broker(broker: str | None) -> str:
    """``broker`` if it is a usable amqp:// URL; otherwise a ``ConfigError`` saying why (never with the password)."""
    from marshmallow import ValidationError

    from healthcrawl.configuration.settings import DistributedSettingsSchema

    if not broker:
        raise ConfigError([f"--broker: an amqp:// URL is required (or set ${BROKER_VARIABLE})"])
    try:
        DistributedSettingsSchema().load({"broker": broker})
    except ValidationError as error:
        raise ConfigError([f"--broker: {message}" for message in error.messages["broker"]]) from None
    return broker


class WorkerCommand(Command):
    name = "worker"
    help = "run Celery workers that crawl the chunks of distributed runs (one process per core by default)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_broker_argument(parser)
        parser.add_argument(
            "--processes", type=int, default=os.cpu_count() or 1, metavar="N",
            help="worker processes, each a Celery worker with the gevent pool (default: one per core)",
        )
        parser.add_argument(
            "--chunks", type=int, default=2, metavar="N",
            help="chunks each process runs at once, each with its own pool of greenlets (default 2)",
        )
        add_host_shards_argument(parser)
        parser.add_argument("--loglevel", default="INFO", help="Celery log level (default INFO)")

    def run(self, args: argparse.Namespace) -> int:
        broker = checked_broker(args.broker)
        if args.processes < 1 or args.chunks < 1 or args.host_shards < 1:
            raise ConfigError(["--processes, --chunks and --host-shards must be at least 1"])
        if args.host_shards > MAX_HOST_SHARDS:
            raise ConfigError([f"--host-shards must be at most {MAX_HOST_SHARDS}"])
        if args.processes == 1:
            from healthcrawl.distributed.worker import run_worker

            return run_worker(broker, args.chunks, args.loglevel, args.host_shards)
        return _supervise(broker, args)


def _supervise(broker: str, args: argparse.Namespace) -> int:
    """Start ``args.processes`` single-process workers and wait for them; SIGINT/SIGTERM are passed on
    (Celery's warm shutdown: running chunks finish, prefetched ones go back to the queue)."""
    command = [sys.executable, "-m", "healthcrawl", "worker", "--processes", "1", "--chunks", str(args.chunks),
               "--host-shards", str(args.host_shards), "--loglevel", args.loglevel]
    environment = {**os.environ, BROKER_VARIABLE: broker}  # not on the command line: `ps` would show the password
    children = [subprocess.Popen(command, env=environment) for _ in range(args.processes)]

    def pass_on(signum: int) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    # gevent's own handlers: this process is monkey-patched and waits for its children in the hub.
    handlers = [gevent.signal_handler(signum, pass_on, signum) for signum in (signal.SIGINT, signal.SIGTERM)]
    print(f"healthcrawl: {len(children)} worker processes on {mask_credentials(broker)}", file=sys.stderr)
    try:
        return max(child.wait() for child in children)
    finally:
        for handler in handlers:
            handler.cancel()


class WorkersCommand(Command):
    name = "workers"
    help = "list the workers connected to a broker and the chunks waiting for them"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_broker_argument(parser)
        parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for workers to answer (default 2)")
        add_host_shards_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from healthcrawl.distributed.broker import CHUNK_QUEUE, make_app, shard_queue

        app = make_app(checked_broker(args.broker))
        replies = app.control.ping(timeout=args.timeout) or []
        names = sorted(name for reply in replies for name in reply)
        with app.connection_for_write() as connection:
            shared = _depth(connection, CHUNK_QUEUE)
            shards = [_depth(connection, shard_queue(i, args.host_shards).name) for i in range(args.host_shards)]
        print(f"{len(names)} workers connected to {mask_credentials(args.broker)}")
        for name in names:
            print(f"  {name}")
        print(f"{CHUNK_QUEUE}: " + (f"{shared[0]} chunks waiting, {shared[1]} consumers" if shared else NOT_DECLARED))
        declared = [depth for depth in shards if depth is not None]
        print(f"{shard_queue(0, args.host_shards).name.rsplit('.', 1)[0]}.*: " + (
            f"{sum(d[0] for d in declared)} chunks waiting in {len(declared)} shard queues" if declared else NOT_DECLARED
        ))
        return 0


NOT_DECLARED = "not declared yet (no worker has connected)"


def _depth(connection, queue: str) -> tuple[int, int] | None:
    """(messages waiting, consumers) of ``queue``, or ``None`` when it does not exist."""
    channel = connection.channel()
    try:
        declared = channel.queue_declare(queue=queue, passive=True)
        return declared.message_count, declared.consumer_count
    except connection.channel_errors:  # the broker closed the channel: a fresh one for the next queue
        return None
    finally:
        try:
            channel.close()
        except connection.connection_errors + connection.channel_errors:
            pass
