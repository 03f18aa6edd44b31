"""Crawling on Celery workers through RabbitMQ: the broker setup, the chunk messages and the worker side.

The coordinator's half is ``healthcrawl.crawl.executors.distributed``; the ``healthcrawl worker``
command (the built-in ``distributed`` plugin) runs ``worker.run_worker``. Celery is imported only
by the modules that need it, so a local crawl never loads it.
"""
