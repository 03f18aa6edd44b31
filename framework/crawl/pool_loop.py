"""The one pool loop: targets in, results out, with a bounded number in flight and a stop signal."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import gevent
import gevent.event
import gevent.pool
import gevent.queue

from healthcrawl.records import Result, Target

_END = object()


def run_pool(
    check_target: Callable[[Target], Result],
    targets: Iterable[Target],
    concurrency: int,
    stop: gevent.event.Event,
) -> Iterator[Result]:
    """Check ``targets`` with at most ``concurrency`` greenlets and yield each result when it is ready.

    Targets are pulled lazily: the next one only when a greenlet is free. Results wait in a
    queue of ``concurrency`` places, so a consumer that falls behind holds the pool back instead
    of letting memory grow. Setting ``stop`` abandons the targets in flight and ends the loop;
    results already finished are still yielded. An exception from ``targets`` (a failing source)
    is raised here after the finished results, with the targets in flight abandoned.
    """
    pool = gevent.pool.Pool(concurrency)
    ready: gevent.queue.Queue = gevent.queue.Queue(concurrency)
    failures: list[Exception] = []

    def check(target: Target) -> None:
        ready.put(check_target(target))

    def feed() -> None:
        try:
            for target in targets:
                if stop.is_set():
                    break
                pool.spawn(check, target)  # waits for a free greenlet
                if stop.is_set():  # set while waiting: the greenlet just started is abandoned too
                    pool.kill(block=False)
                    break
            pool.join()
        except Exception as error:
            failures.append(error)
            pool.kill()
        finally:
            ready.put(_END)

    def abandon(_event) -> None:
        pool.kill(block=False)

    stop.rawlink(abandon)
    feeder = gevent.spawn(feed)
    try:
        while (result := ready.get()) is not _END:
            yield result
    finally:
        stop.unlink(abandon)
        feeder.kill()
        pool.kill()
    if failures:
        raise failures[0]
