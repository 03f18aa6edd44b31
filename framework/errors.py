"""The error that ends a command with exit code 1 and one readable line.

It lives apart from the modules that raise it so that the CLI can catch it without importing
them (the storage modules pull in SQLAlchemy and Alembic, which every command would pay for).
"""


class CommandFailed(Exception):
    """A command could not do its work; ``str(error)`` is one readable line for the user."""
