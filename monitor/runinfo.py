"""Whether a daemon runs on a store, and where to reach it: the run file `<store.path>.run.json`.

`newsmon run` writes it once it has started (`write`, with its health endpoint's real URL), and removes
it on a clean shutdown (`remove`); `newsmon status` reads it (`read`). A daemon killed with SIGKILL, or a
crash, leaves the file behind: `read` then returns None, because the pid it names is not alive on this
host, or is alive but is no newsmon (a pid reused by another program).

    {"pid": 4242, "started": "2026-12-03T14:40:07+00:00", "health_url": "http://127.0.0.1:9464/",
     "config_path": "/etc/newsmon/config.yaml", "host": "newsmon-1"}

A clean stop also leaves `<store.path>.stopped.json` (`{"stopped": ..., "pid": ...}`) for
`last_stopped`. For a store that is not a file (a URL), both live in the config's directory as
`newsmon.run.json` and `newsmon.stopped.json`.

One daemon per store: `acquire` takes an exclusive lock (flock) on `<store.path>.run.lock` for the life of
the process, before the store is opened, and raises AlreadyRunning (naming the other daemon's pid)
when another process holds it (StoreError when the filesystem cannot lock at all, e.g. NFS without a
lock manager). The paths are those of the resolved store path, so configs reaching one store through
a symlinked directory share one lock. The kernel releases the lock when the process dies however it dies,
so a stale lock is impossible; the lock file itself is never removed (removing it would let two
processes lock two different files).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from monitor.errors import StoreError

RUN_SUFFIX = ".run.json"
STOPPED_SUFFIX = ".stopped.json"
LOCK_SUFFIX = ".run.lock"


@dataclass
class RunInfo:
    pid: int
    started: datetime
    health_url: str | None
    config_path: str
    host: str


class AlreadyRunning(Exception):
    """Another daemon holds this store. `pid` is its pid when known (None while it is still starting)."""

    def __init__(self, store: str, pid: int | None, info: RunInfo | None = None) -> None:
        self.store = store
        self.pid = pid
        self.info = info
        who = f"pid {pid}" if pid else "pid not known yet: it is starting"
        if info is not None and info.health_url:
            who += f", health on {info.health_url}"
        super().__init__(f"another newsmon is already running on store {store} ({who}); stop it first")


# -- where ---------------------------------------------------------------------------------------


def _base(config: Any) -> Path:
    """`<store_path>` for a SQLite store; `<base_dir>/newsmon` for a store named by a URL. Resolved
    (symlinks, `..`): two configs that reach one store by different paths share its lock and run file."""
    raw = str(getattr(getattr(config, "store", None), "path", "") or "")
    if "://" in raw:
        return (Path(config.base_dir) / "newsmon").resolve()
    return Path(config.store_path).resolve()


def _with_suffix(config: Any, suffix: str) -> Path:
    base = _base(config)
    return base.with_name(base.name + suffix)


def path(config: Any) -> Path:
    """The run file of this config's store."""
    return _with_suffix(config, RUN_SUFFIX)


def stopped_path(config: Any) -> Path:
    return _with_suffix(config, STOPPED_SUFFIX)


def lock_path(config: Any) -> Path:
    return _with_suffix(config, LOCK_SUFFIX)


# -- write / read / remove -----------------------------------------------------------------------


def _write_json(target: Path, data: dict[str, object]) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write(config: Any, health_url: str | None) -> None:
    """Record this process as the daemon running on config's store. Raises OSError when it cannot."""
    config_path = getattr(config, "path", None)
    _write_json(path(config), {
        "pid": os.getpid(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "health_url": health_url,
        "config_path": str(Path(config_path).resolve()) if config_path else "",
        "host": socket.gethostname(),
    })


def _load(file: Path) -> RunInfo | None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        started = datetime.fromisoformat(data["started"])
        if started.tzinfo is None:
            started = started.replace(tzinfo=timezone.utc)
        return RunInfo(pid=int(data["pid"]), started=started, health_url=data.get("health_url") or None,
                       config_path=str(data.get("config_path") or ""), host=str(data.get("host") or ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None   # missing, unreadable, half-written by an older version, or not ours


def pid_is_newsmon(pid: int) -> bool:
    """Is `pid` a live process on this host that looks like newsmon (python running monitor/newsmon)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass   # alive, another user's: the cmdline below decides
    except OSError:
        return False
    proc = Path(f"/proc/{pid}/cmdline")
    if not sys.platform.startswith("linux") or not Path("/proc/self/cmdline").exists():
        return True   # no /proc: a live pid is all we can know
    try:
        args = [a for a in proc.read_bytes().split(b"\0") if a]
    except OSError:
        return False  # gone meanwhile (or hidden from us)
    words = [os.path.basename(a.decode("utf-8", "replace")).lower() for a in args]
    return any(w.startswith("python") or "newsmon" in w for w in words[:1]) and any(
        "newsmon" in w or w == "monitor" or w.startswith("monitor.") for w in words)


def read(config: Any) -> RunInfo | None:
    """The daemon running on config's store, or None: no run file, or the pid it names is not alive on
    this host, or is now another program (or the file was written on another host)."""
    info = _load(path(config))
    if info is None:
        return None
    if info.host and info.host != socket.gethostname():
        return None   # cannot be checked from here (e.g. a container recreated with a new hostname)
    if info.pid != os.getpid() and not pid_is_newsmon(info.pid):
        return None
    return info


def remove(config: Any) -> None:
    """On a clean shutdown: remove the run file if it is still ours, and note when we stopped."""
    file = path(config)
    info = _load(file)
    if info is None or info.pid != os.getpid() or info.host != socket.gethostname():
        return
    try:
        file.unlink()
    except FileNotFoundError:
        pass
    try:
        _write_json(stopped_path(config), {"stopped": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                           "pid": os.getpid()})
    except OSError:
        pass


def last_stopped(config: Any) -> datetime | None:
    """When a daemon last stopped cleanly on this store (None: never, or not known)."""
    try:
        data = json.loads(stopped_path(config).read_text(encoding="utf-8"))
        when = datetime.fromisoformat(data["stopped"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# -- one daemon per store ------------------------------------------------------------------------


class Lock:
    """Held while the daemon runs; released by `release()` or when the process ends."""

    def __init__(self, file: IO[str] | None) -> None:
        self.file = file

    def release(self) -> None:
        if self.file is not None:
            self.file.close()   # closing the descriptor drops the flock
            self.file = None


def acquire(config: Any) -> Lock:
    """Take the store's daemon lock, or raise AlreadyRunning. Where flock is unavailable (or the
    directory is not writable, which opening the store reports better), falls back to the run file.
    Raises StoreError when the filesystem refuses the lock itself (ENOLCK on NFS): that is no other
    daemon, and the message says so."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        fcntl = None  # type: ignore[assignment]
    store = str(_base(config)) if "://" not in str(config.store.path) else str(config.store.path)
    if fcntl is None:
        info = read(config)
        if info is not None and info.pid != os.getpid():
            raise AlreadyRunning(store, info.pid, info)
        return Lock(None)
    try:
        f = open(lock_path(config), "a+", encoding="utf-8")  # noqa: SIM115 (held until exit)
    except OSError:
        info = read(config)
        if info is not None and info.pid != os.getpid():
            raise AlreadyRunning(store, info.pid, info) from None
        return Lock(None)
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # EWOULDBLOCK: another process holds it
        f.seek(0)
        text = f.read().strip()
        f.close()
        info = read(config)
        pid = info.pid if info is not None else (int(text) if text.isdigit() else None)
        raise AlreadyRunning(store, pid, info) from None
    except OSError as exc:  # ENOLCK (NFS without a lock manager), EINVAL, ...: not another daemon
        f.close()
        raise StoreError(f"cannot lock {lock_path(config)}: {exc.strerror or exc}: locking failed on the "
                         "filesystem of the store (a network filesystem without locks?), so one daemon per "
                         "store cannot be ensured; put store.path on a local filesystem") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return Lock(f)


__all__ = ["AlreadyRunning", "Lock", "RunInfo", "acquire", "last_stopped", "lock_path", "path", "read",
           "remove", "stopped_path", "write"]
