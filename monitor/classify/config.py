"""The `classify:` section of config.yaml (pydantic model `ClassifyConfig`).

Every key has a default, so an empty section (or none) means: the shipped keyword files and
watchlist, every language, the thresholds written in the keyword files.

    classify:
      defaults: true                 # load monitor/keywords/*.yaml
      keywords: [keywords/]          # extra keyword files or directories (*.yaml), relative to config.yaml
      watchlist: watchlist.yaml      # extra entities file, relative to config.yaml
      entities:                      # extra entities inline
        - name: China Unicom
          aliases: [中国联通, 联通, Unicom]
      languages: [en, de, zh]        # load rules for these languages only (language-neutral "*" rules always)
      title_weight: 2.0              # default multiplier for hits in the title
      categories:
        outage: {threshold: 4, require_entity: true}
        rumor: {enabled: false}
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EntityConfig(BaseModel):
    """One watched organisation: its canonical `name` (reported in Classification.entities) and
    `aliases` in any script. The name itself is always an alias."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    aliases: list[str] = []


class CategoryConfig(BaseModel):
    """Per-category overrides, applied on top of what the keyword files say, for every language.

    - `threshold`: score needed to flag the category (keyword files set it per language; this wins).
    - `title_weight`: multiplier for hits in the title.
    - `require_entity`: flag only when a watchlist entity is found in the article.
    - `enabled`: false drops the category entirely.
    """

    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(default=None, gt=0)
    title_weight: float | None = Field(default=None, ge=1)
    require_entity: bool = False
    enabled: bool = True


class ClassifyConfig(BaseModel):
    """Which keyword files to load and how to score them.

    - `defaults`: load the shipped keyword files and watchlist (monitor/keywords/).
    - `keywords`: user keyword files or directories (every *.yaml inside), relative to the config
      file's directory; loaded after the defaults, so their category settings override them.
    - `watchlist`: a user entities file (same format as monitor/keywords/entities.yaml).
    - `entities`: watchlist entries written inline.
    - `languages`: load keyword files only for these ISO 639-1 codes (language-neutral files always).
    - `title_weight`: default multiplier for hits in the title (a keyword file or `categories` may
      set another per category).
    - `categories`: per-category overrides (see CategoryConfig); names must exist in the rules.
    """

    model_config = ConfigDict(extra="forbid")

    defaults: bool = True
    keywords: list[str] = []
    watchlist: str | None = None
    entities: list[EntityConfig] = []
    languages: list[str] | None = None
    title_weight: float = Field(default=2.0, ge=1)
    categories: dict[str, CategoryConfig] = {}
