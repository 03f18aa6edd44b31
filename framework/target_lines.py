"""Reading a target list's lines with bounded memory: no more than ``MAX_LINE_LENGTH`` characters of a line at a time.

The ``file`` and ``csv`` sources read through ``read_lines``; what a line says is then judged by
``parse_target``. A line longer than ``MAX_LINE_LENGTH`` comes out as one invalid target (its
start, escaped and cut) and the rest of it is skipped without being kept; a line still going after
``MAX_SKIPPED_LENGTH`` characters (``/dev/zero``, a binary file) ends the reading with a second
invalid target that says the rest of the file is not read. Open files with
``errors="surrogateescape"``: an undecodable byte then reaches ``parse_target`` as a lone
surrogate and makes that line an invalid target, instead of being replaced in silence.
"""

from __future__ import annotations

from typing import Iterator, TextIO

from healthcrawl.records import Target
from healthcrawl.target_parsing import invalid_target

MAX_LINE_LENGTH = 8192
"""The longest line read (in characters, without its end of line): a target, white space around it, a CSV row's other cells."""

MAX_SKIPPED_LENGTH = 2**29
"""How many characters of an overlong line are skipped in search of its end before the rest of the file is given up."""

_SKIP_CHUNK = 65536


def read_lines(file: TextIO, name: str) -> Iterator[str | Target]:
    """The lines of ``file`` (with their ends of line), or for an overlong line an invalid ``Target`` in its place.

    ``name`` names the file in the reasons (``line 3 of targets.txt is longer than 8192 characters``).
    """
    number = 0
    while line := file.readline(MAX_LINE_LENGTH + 1):
        number += 1
        if len(line) <= MAX_LINE_LENGTH or _ends(line):
            yield line
            continue
        yield invalid_target(line, f"line {number} of {name} is longer than {MAX_LINE_LENGTH} characters")
        skipped = len(line)
        while not _ends(line):
            if skipped > MAX_SKIPPED_LENGTH:
                yield invalid_target(
                    "", f"line {number} of {name} goes on past {MAX_SKIPPED_LENGTH} characters: the rest is not read"
                )
                return
            line = file.readline(_SKIP_CHUNK)
            if not line:
                return
            skipped += len(line)


def _ends(line: str) -> bool:
    return line.endswith(("\n", "\r"))
