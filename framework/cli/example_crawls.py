"""The packaged example crawls: list them, copy one to edit, or run one from the installed package.

An example is a folder of the ``healthcrawl.examples`` package data holding ``crawl.yaml``, its
targets and a ``README.md`` whose first paragraph line is the one-line description.

An example that needs local servers has a ``demo_servers.py`` next to its config, defining
``start(stack: contextlib.ExitStack) -> dict[str, str]``: it starts the servers (registering each
one's stop on ``stack``) and returns placeholder names mapped to values, such as
``{"DEMO_HTTP": "http://127.0.0.1:40123"}``. While the example runs, each name is set in the
environment (so the config's ``${DEMO_HTTP}`` or ``${DEMO_HTTP:-default}`` expands to it) and
``${DEMO_HTTP}`` is replaced with the value in the example's target files (``*.txt``, ``*.csv``).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

EXAMPLES_PACKAGE = "healthcrawl.examples"
CONFIG_NAME = "crawl.yaml"
DEMO_SERVERS_MODULE = "demo_servers.py"
TARGET_FILE_SUFFIXES = (".txt", ".csv")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc")


class ExampleError(Exception):
    """An example that does not exist, or a copy that would overwrite something."""


@dataclass(frozen=True)
class Example:
    """One packaged example crawl."""

    name: str
    path: Path
    description: str

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def needs_demo_servers(self) -> bool:
        """Whether the example starts its own local servers (and so runs offline)."""
        return (self.path / DEMO_SERVERS_MODULE).is_file()


def examples_root() -> Path:
    """The folder the packaged examples are installed in."""
    return Path(str(importlib.resources.files(EXAMPLES_PACKAGE)))


def list_examples() -> list[Example]:
    """Every packaged example, by name."""
    root = examples_root()
    folders = sorted(p for p in root.iterdir() if (p / CONFIG_NAME).is_file())
    return [Example(p.name, p, _description(p / "README.md")) for p in folders]


def get_example(name: str) -> Example:
    """The packaged example called ``name``, else the example folder at the path ``name`` (a copy).

    ``ExampleError`` names the known examples when there is neither.
    """
    examples = list_examples()
    for example in examples:
        if example.name == name:
            return example
    folder = Path(name)
    if (folder / CONFIG_NAME).is_file():
        return Example(folder.resolve().name, folder, _description(folder / "README.md"))
    known = ", ".join(e.name for e in examples)
    raise ExampleError(f"no example called {name!r} (known: {known})")


def copy_example(example: Example, destination: Path) -> Path:
    """Copy the example's folder to ``destination`` (which must not exist yet) and return it."""
    if destination.exists():
        raise ExampleError(f"{destination} already exists; name a new folder to copy {example.name} into")
    shutil.copytree(example.path, destination, ignore=_NOT_COPIED)
    return destination


@contextlib.contextmanager
def prepared_example(example: Example) -> Iterator[Path]:
    """Start the example's demo servers (if any) and yield the path of a ready-to-run config.

    With demo servers the config is read from a temporary copy with the placeholders filled in;
    either way, relative output paths in it (such as ``sqlite:///offline-demo.db``) land in the
    current folder.
    """
    if not example.needs_demo_servers:
        yield example.config_path
        return
    with tempfile.TemporaryDirectory(prefix=f"healthcrawl-{example.name}-") as workdir, contextlib.ExitStack() as stack:
        copy = copy_example(example, Path(workdir) / example.name)
        values = _start_demo_servers(copy / DEMO_SERVERS_MODULE, stack)
        for path in copy.iterdir():
            if path.suffix in TARGET_FILE_SUFFIXES:
                path.write_text(fill_placeholders(path.read_text(encoding="utf-8"), values), encoding="utf-8")
        stack.enter_context(_environment(values))
        yield copy / CONFIG_NAME


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace ``${NAME}`` with ``values[NAME]``; unknown names are left as they are."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def _start_demo_servers(module_path: Path, stack: contextlib.ExitStack) -> dict[str, str]:
    spec = importlib.util.spec_from_file_location(f"healthcrawl_example_{module_path.parent.name}", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.start(stack))


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _description(readme: Path) -> str:
    """The first line of the README's first paragraph (headings skipped)."""
    try:
        lines = readme.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in lines if line.strip() and not line.startswith("#")), "")
