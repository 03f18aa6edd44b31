"""Testing kit for healthcrawl and its plugins: loopback servers, certificates, in-process crawls.

``healthcrawl.testing.pytest_plugin`` is a pytest plugin (registered through the ``pytest11``
entry point, so it is active wherever healthcrawl is installed) whose fixtures wrap these pieces.
This package imports nothing heavy: ``gevent.monkey.patch_all()`` must run before its modules
that open sockets are imported.
"""
