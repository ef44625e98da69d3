"""Logging for the daemon: text lines or JSON lines (config `log.format`), level from `log.level`.

Messages are written for people and already name the source and URL; the stable keys passed with
`extra=` (source, url, channel, category…) also appear as fields in JSON mode, for log pipelines.

Secrets never reach a log line: every value substituted for a ${VAR} and every secret-bearing config
value (channel URLs, passwords, tokens) is registered with `register_secret`, and newsmon's formatters
replace each registered value with `***` — in messages, arguments, `extra=` fields and tracebacks, at
every level. Commands pass what they print through `redact` too."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, urlsplit

MASK = "***"
MIN_SECRET = 4            # shorter values are not masked: they would mangle every line

_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def _is_token(text: str) -> bool:
    return len(text) >= 16 or (len(text) >= 6 and any(c.isdigit() for c in text))


def _secret_parts(value: str) -> set[str]:
    """A secret and the parts a log line may show alone: for a URL its password, query values and
    token-like path segments (a request line shows only the path); otherwise token-like words
    ("Bearer <token>"). Plain words ("services", "hooks") are left alone."""
    out = {value}
    if "://" in value:
        try:
            parts = urlsplit(value)
            out.add(parts.password or "")
        except ValueError:  # e.g. an unclosed "[" in the host
            return out
        out.update(seg for seg in parts.path.split("/") if _is_token(seg))
        out.update(v for _, v in parse_qsl(parts.query) if len(v) >= 6)
    else:
        out.update(w for w in value.split() if _is_token(w))
    return {p for p in out if len(p) >= MIN_SECRET}


def register_secret(*values: str) -> None:
    """Mask these values (and, for URLs, their token-bearing parts) in every log line from now on."""
    global _pattern
    parts = {p for value in values if value for p in _secret_parts(value)}
    parts |= {quote(p) for p in parts}  # as a crawler's request line writes it
    with _lock:
        if not parts <= _secrets:
            _secrets.update(parts)
            _pattern = None


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    global _pattern
    if not _secrets or not text:
        return text
    pattern = _pattern
    if pattern is None:
        with _lock:
            pattern = _pattern = re.compile("|".join(map(re.escape, sorted(_secrets, key=len, reverse=True))))
    return pattern.sub(MASK, text)


_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName",
                                                                                "spider", "crawler"}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for k, v in _extras(record).items():
            out[k] = v if isinstance(v, (int, float, bool, type(None))) else str(v)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps({k: redact(v) if isinstance(v, str) else v for k, v in out.items()}, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))  # type: ignore[arg-type]


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is not SystemExit:
        sys.stderr.write(f"Exception in thread {args.thread.name if args.thread else '?'}:\n")
        _excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)


def setup_logging(fmt: str = "text", level: str = "info", verbose: bool = False) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level.upper()))
    # urllib3 logs every request line (webhook and Slack URL paths carry the token) at debug level
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
