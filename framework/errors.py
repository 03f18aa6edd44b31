"""The errors that end a command (a config error: exit 2; ``CommandFailed``: exit 1), and how any error is shown on one line.

It lives apart from the modules that raise it so that the CLI can catch it without importing
them (the storage modules pull in SQLAlchemy and Alembic, which every command would pay for).
"""


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` holds one readable line per problem (exit code 2)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class CommandFailed(Exception):
    """A command could not do its work; ``str(error)`` is one readable line for the user."""


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type name when the message is empty)."""
    return " ".join(str(error).split()) or type(error).__name__


def describe_error(error: BaseException) -> str:
    """``Type: message`` on one line (just ``Type`` when the message is empty), for errors naming a plugin."""
    detail = " ".join(str(error).split())
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
