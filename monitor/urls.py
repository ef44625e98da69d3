"""URL canonicalisation and same-site checks.

`canonical_url` gives the form under which an article is stored and de-duplicated: resolved against a
base, scheme and host lower-cased, default port removed, fragment dropped and tracking parameters
(utm_*, fbclid, gclid, mc_cid, ref, ...) stripped; the remaining query parameters are kept in order, as
written.
`same_site` compares registrable domains (public suffix list snapshot bundled with tldextract; it is
never fetched over the network). Reads no config.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

import tldextract

# Never fetch the public suffix list: use the snapshot shipped in the package.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

_TRACKING_EXACT = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url",
        "referrer", "cmpid", "ocid", "ncid", "sr_share", "smid", "spm", "wt.mc_id",
        "__twitter_impression", "hpt", "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3",
        "at_custom4", "xtor", "s_cid", "icid", "oly_enc_id", "oly_anon_id", "vero_id",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "itm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE = re.compile(r"[\s<>\"{}|\\^`]")


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical form of `url` (resolved against `base` if relative). Never raises: a URL that
    cannot be parsed, or is not http(s) with a host, is returned stripped of surrounding whitespace.
    Idempotent: canonical_url(canonical_url(u)) == canonical_url(u)."""
    url = url.strip()
    if base:
        try:
            url = urljoin(base, url).strip()
        except ValueError:
            pass  # a base that cannot be parsed: `url` on its own
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if scheme not in ("http", "https") or not host:
            return url
        try:
            port = parts.port
        except ValueError:
            port = None
    except ValueError:
        return url
    netloc = host
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    path = parts.path or "/"
    if _UNSAFE.search(path):
        path = quote(path, safe="/%:@!$&'()*+,;=~-._")
    # drop tracking parameters but keep the others exactly as written, so that a link with and
    # without them gives the same URL
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(unquote_plus(p.split("=")[0])))
    if _UNSAFE.search(query):
        query = quote(query, safe="/?%:@!$&'()*+,;=~-._")
    return urlunsplit((scheme, netloc, path, query, ""))


@lru_cache(maxsize=4096)
def registrable_domain(url_or_host: str) -> str:
    """The registrable domain ("bbc.co.uk" for "https://www.bbc.co.uk/news"); for IP addresses,
    localhost and hosts without a public suffix, the host itself."""
    if "//" in url_or_host:
        try:
            host = urlsplit(url_or_host).hostname or ""
        except ValueError:
            host = ""
    else:
        host = url_or_host.split(":")[0]
    host = host.lower().rstrip(".")
    ext = _EXTRACT(host)
    domain = ext.top_domain_under_public_suffix
    return domain or host


def same_site(a: str, b: str) -> bool:
    """True if URLs (or hosts) `a` and `b` share a registrable domain (www.bbc.co.uk ~ news.bbc.co.uk)."""
    da, db = registrable_domain(a), registrable_domain(b)
    return bool(da) and da == db
