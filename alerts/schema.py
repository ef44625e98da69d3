"""Schema of the alert tables (outbox, dead letters, groups, silences), applied by monitor.store.

Append-only: each entry is one migration; never edit an entry that has shipped, add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = []
