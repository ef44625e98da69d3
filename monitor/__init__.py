"""newsmon: a news-monitoring daemon that flags outages, fraud and rumor rebuttals in any language."""

from __future__ import annotations

__version__ = "0.1.0"
USER_AGENT = f"newsmon/{__version__} (+https://github.com/newsmon/newsmon; news monitoring bot)"
