"""The error that ends a command with exit code 1, and how any error is shown on one line.

It lives apart from the modules that raise it so that the CLI can catch it without importing
them (the storage modules pull in SQLAlchemy and Alembic, which every command would pay for).
"""


class CommandFailed(Exception):
    """A command could not do its work; ``str(error)`` is one readable line for the user."""


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type name when the message is empty)."""
    return " ".join(str(error).split()) or type(error).__name__
