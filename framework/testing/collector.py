"""An in-memory sink that keeps every result of a run: for ``healthcrawl check`` and for tests."""

from __future__ import annotations

from healthcrawl.plugin_system.components import Sink
from healthcrawl.records import Result


class ResultCollector(Sink):
    """Keeps results in ``results``, in the order they were written. Not for big crawls."""

    type_name = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.results: list[Result] = []

    def write(self, results: list[Result]) -> None:
        self.results.extend(results)

    def records(self) -> list[dict]:
        """The collected results as result records."""
        return [result.to_record() for result in self.results]
