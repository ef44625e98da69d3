"""Typed errors shared across newsmon. Every error a user sees names where it came from."""

from __future__ import annotations

from monitor.logs import redact


class NewsmonError(Exception):
    """Base class for errors newsmon reports to the user."""


class ConfigProblem:
    """One problem in a config file: where it is and what is wrong."""

    __slots__ = ("file", "line", "path", "message")

    def __init__(self, file: str, line: int | None, path: str, message: str) -> None:
        self.file = file
        self.line = line
        self.path = path
        self.message = message

    def __str__(self) -> str:  # a ${VAR} value echoed by a message (e.g. 'not a duration: "…"') is masked
        where = f"{self.file}:{self.line}" if self.line else self.file
        return redact(f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}")

    def __repr__(self) -> str:
        return f"ConfigProblem({str(self)!r})"


class ConfigError(NewsmonError):
    """A config or rules file is invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class KeywordError(ConfigError):
    """A keyword (rules) file is invalid."""


class SourceError(NewsmonError):
    """Polling a source failed. `retryable` says whether the next poll may succeed unchanged."""

    def __init__(self, source: str, url: str, reason: str, retryable: bool = True) -> None:
        self.source = source
        self.url = url
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"source {source}: {url}: {reason}")


class NotifyError(NewsmonError):
    """Sending to a channel failed. `retryable` False means a permanent failure (dead letter).

    `retry_after` (seconds) is set when the receiver asked us to wait (HTTP 429 Retry-After).
    Messages must never contain secrets (webhook URLs, passwords, keys).
    """

    def __init__(self, reason: str, retryable: bool = True, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(reason)


class StoreError(NewsmonError):
    """The store cannot be opened (read-only, missing directory, not a database): the command stops."""
