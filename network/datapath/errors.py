"""The one exception of the datapath: a command that failed, and the first line it said."""
from __future__ import annotations


class DatapathError(Exception):
    """A datapath command failed; carries the command line and its stderr's first line."""

    def __init__(self, command: list[str], detail: str):
        self.command = list(command)
        self.detail = detail
        super().__init__(f"{' '.join(self.command)}: {detail}")
