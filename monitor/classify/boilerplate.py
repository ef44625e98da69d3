"""`clean_plaintext(text)`: drop page boilerplate left in plain text — link lists, "related news"
blocks, footers, navigation crumbs — so that it cannot raise alarms.

Generic, line-based rules (no site-specific patterns):

* a line made of many short headline-like segments (split on runs of 2+ spaces, tabs, " | ", "·",
  "•", "/") is a link list;
* a line that starts with a boilerplate label ("Related news", "相关新闻", "友情链接", "Đọc nhanh",
  "CÙNG CHUYÊN MỤC", "Copyright", "©", "Lesen Sie auch", "Baca juga", "اقرأ أيضا", ...) is dropped, and
  so are the short, headline-like lines that follow a label that stands alone (a "related" block);
* navigation crumbs ("Home > News > Tech", "首页 > 新闻") and short lines ending in a separator are
  dropped.
Paragraphs of running text are kept untouched, in order.
"""

from __future__ import annotations

import re

_LABELS = [
    # en
    "related", "read more", "read also", "see also", "more from", "more stories", "recommended",
    "you may also like", "you might also like", "trending", "most read", "most popular", "latest news",
    "top stories", "copyright", "all rights reserved", "share this", "follow us", "subscribe",
    "advertisement", "sponsored", "tags:", "topics:", "sign up",
    # de
    "lesen sie auch", "mehr zum thema", "weitere artikel", "das könnte sie auch interessieren",
    "verwandte artikel", "alle rechte vorbehalten", "anzeige", "schreibe einen kommentar", "meistgelesen",
    # fr
    "à lire aussi", "a lire aussi", "lire aussi", "voir aussi", "sur le même sujet", "articles liés",
    "tous droits réservés", "les plus lus",
    # es / pt
    "lee también", "leer también", "ver también", "te puede interesar", "noticias relacionadas",
    "más noticias", "lo más leído", "todos los derechos reservados", "leia também", "leia mais",
    "veja também", "notícias relacionadas", "mais lidas", "todos os direitos reservados",
    # vi
    "đọc nhanh", "cùng chuyên mục", "tin liên quan", "tin cùng chuyên mục", "xem thêm", "tin mới nhất",
    "tin khác", "mới nhất", "đọc thêm", "bài liên quan", "tin nổi bật",
    # id
    "baca juga", "berita terkait", "artikel terkait", "terpopuler", "berita lainnya", "simak juga",
    # ar
    "اقرأ أيضا", "اقرأ أيضاً", "إقرأ أيضا", "اقرأ ايضا", "أخبار ذات صلة", "اخبار ذات صلة", "مواضيع ذات صلة",
    "الأكثر قراءة", "جميع الحقوق محفوظة", "شاهد أيضا",
    # ru
    "читайте также", "похожие новости", "по теме", "смотрите также", "популярное", "все права защищены",
    "новости по теме", "реклама",
    # zh
    "相关新闻", "相关阅读", "相关文章", "相关推荐", "推荐阅读", "友情链接", "热门推荐", "延伸阅读", "更多新闻",
    "版权所有", "版權所有", "相關新聞", "相關閱讀", "免责声明", "扫描微信", "扫一扫", "上一篇", "下一篇",
    "責任編輯", "责任编辑",
]
_LABEL_RE = re.compile(
    r"^\W{0,3}(?:" + "|".join(re.escape(x) for x in sorted(_LABELS, key=len, reverse=True)) + r")",
    re.IGNORECASE,
)
_SEGMENT_SPLIT = re.compile(r"\s{2,}|\t|\s[|·•/]\s|\s?[|•]\s?|\u3000+")
_CRUMB = re.compile(r"^[^.!?。！？]{1,40}(?:\s*[>»›/]\s*[^.!?。！？>»›]{1,40}){2,}$")
_TRAILING_SEP = re.compile(r"[|·•»>]\s*$")
_SENTENCE_END = re.compile(r"[.!?。！？؟…»”\"')）]\s*$")


def _is_link_list(line: str) -> bool:
    segments = [s for s in _SEGMENT_SPLIT.split(line) if s.strip()]
    if len(segments) < 4:
        return False
    short = sum(1 for s in segments if len(s.strip()) <= 60)
    return short >= 0.8 * len(segments)


def _is_headline_like(line: str) -> bool:
    return len(line) <= 120 and not (_SENTENCE_END.search(line) and len(line) > 80)


def clean_plaintext(text: str) -> str:
    """`text` without link lists, related-news blocks, footers and navigation crumbs."""
    out: list[str] = []
    in_block = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            in_block = False
            out.append("")
            continue
        if _LABEL_RE.match(line):
            # a label that stands alone heads a block of links; one followed by text is dropped alone
            in_block = len(line) <= 40
            continue
        if in_block and _is_headline_like(line) and len(line) <= 80:
            continue
        in_block = False
        if line.startswith("©") or _is_link_list(line) or (len(line) <= 120 and _CRUMB.match(line)):
            continue
        if len(line) <= 80 and _TRAILING_SEP.search(line):
            continue
        out.append(raw.rstrip())
    cleaned = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()
