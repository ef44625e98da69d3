"""Scrapy settings for `scrapy list` / `scrapy crawl <spider> -a source=ID` run from the project root
(scrapy.cfg points here). It lives outside spiders/ because Scrapy imports every module of the spider
package: newsmon's own commands must not read ./config.yaml behind the user's `-c` choice.

They are derived from the newsmon config file: $NEWSMON_CONFIG, else ./config.yaml. An invalid config is
reported here (file, line, key) and the crawl refuses to start.
"""

from __future__ import annotations

import os
import sys

from monitor.config import default_config, load_config
from monitor.crawl import scrapy_settings
from monitor.errors import ConfigError

_path = os.environ.get("NEWSMON_CONFIG", "config.yaml")
try:
    _config = load_config(_path) if os.path.exists(_path) else default_config()
except ConfigError as _exc:
    sys.stderr.write(f"newsmon: invalid config, refusing to crawl:\n{_exc}\n")
    raise SystemExit(2) from None

globals().update(scrapy_settings(_config))
NEWSMON_CONFIG = _path
