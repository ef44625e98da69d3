"""Test articles and feeds for the crawl tests. We wrote these stories ourselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape


@dataclass
class Story:
    slug: str
    lang: str
    title: str
    paragraphs: list[str]
    hours_ago: float = 1.0

    def published(self, now: datetime | None = None) -> datetime:
        now = now or datetime.now(timezone.utc)
        return (now - timedelta(hours=self.hours_ago)).replace(microsecond=0)


STORIES = [
    Story(
        "telco-outage",
        "en",
        "Nationwide mobile network outage leaves Telstra customers without service",
        [
            "Millions of Telstra customers were unable to make calls, send messages or use mobile data on "
            "Tuesday morning after a nationwide network outage hit the operator.",
            "The company said a fault in its core network caused the disruption, which began shortly after "
            "6am and also knocked out emergency calls in some regions for several hours.",
            "Customers reported on social media that the Telstra app was down and that card payments in shops "
            "using Telstra connections failed. Engineers restored most services by midday.",
            "Telstra apologised for the service outage and said affected customers would receive a credit on "
            "their next bill.",
        ],
    ),
    Story(
        "sparkasse-betrug",
        "de",
        "Polizei warnt vor Betrugsanrufen im Namen der Sparkasse",
        [
            "Die Polizei warnt vor einer neuen Welle von Betrugsanrufen: Unbekannte geben sich am Telefon als "
            "Mitarbeiter der Sparkasse aus und fordern Kunden auf, TAN-Nummern und Zugangsdaten zu nennen.",
            "Nach Angaben der Ermittler erhielten in den vergangenen Tagen Hunderte Menschen solche Anrufe. "
            "Zusätzlich kursieren Phishing-Mails, die auf gefälschte Anmeldeseiten führen.",
            "Die Sparkasse betont, dass sie niemals telefonisch nach PIN oder TAN fragt. Betroffene sollten "
            "sofort ihre Bank informieren und Anzeige erstatten.",
        ],
    ),
    Story(
        "park-budget",
        "en",
        "City council approves budget for new riverside park",
        [
            "The city council on Monday approved a budget of 12 million dollars for a new riverside park, "
            "with playgrounds, a cycling path and a small open-air stage.",
            "Construction is expected to begin next spring and to take about eighteen months. Residents "
            "welcomed the plan at a public meeting last week.",
            "The mayor said the park would be the largest green space created in the city in forty years.",
        ],
    ),
    Story(
        "bank-tin-don",
        "vi",
        "Ngân hàng bác bỏ tin đồn mất khả năng thanh toán",
        [
            "Ngân hàng cho biết các thông tin lan truyền trên mạng xã hội về việc ngân hàng mất khả năng "
            "thanh toán là tin giả, hoàn toàn sai sự thật.",
            "Đại diện ngân hàng khẳng định hoạt động vẫn diễn ra bình thường và đã đề nghị cơ quan chức năng "
            "xử lý những cá nhân tung tin đồn thất thiệt.",
            "Khách hàng được khuyến cáo chỉ theo dõi thông tin từ các kênh chính thức của ngân hàng.",
        ],
    ),
]


def article_html(story: Story, now: datetime | None = None, charset: str = "utf-8", declare: bool = True) -> bytes:
    meta = f'<meta charset="{charset}">' if declare else ""
    published = story.published(now).isoformat()
    paras = "\n".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    html = f"""<!DOCTYPE html>
<html lang="{story.lang}"><head>{meta}
<title>{escape(story.title)} | Test News</title>
<meta property="article:published_time" content="{published}">
</head><body>
<nav><a href="/">Home</a> <a href="/world/">World</a> <a href="/business/">Business</a></nav>
<article><h1>{escape(story.title)}</h1>
<time datetime="{published}">{published}</time>
{paras}
</article>
<aside><h2>Most read</h2><ul><li><a href="/other/1">Police warn of phone scam wave</a></li>
<li><a href="/other/2">Weather: storms expected</a></li></ul></aside>
<footer>Copyright Test News</footer>
</body></html>"""
    return html.encode(charset)


def rss(base: str, stories: list[Story], now: datetime | None = None, summary: bool = False) -> bytes:
    items = []
    for s in stories:
        desc = " ".join(s.paragraphs) if summary else s.paragraphs[0][:120]
        items.append(
            f"<item><title>{escape(s.title)}</title><link>{base}/news/{s.slug}.html?utm_source=rss</link>"
            f"<guid>{base}/news/{s.slug}.html</guid>"
            f"<pubDate>{format_datetime(s.published(now))}</pubDate>"
            f"<description>{escape(desc)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test News</title>'
        f"<link>{base}/</link><description>test</description>{''.join(items)}</channel></rss>"
    ).encode()


def news_sitemap(base: str, entries: list[tuple[str, datetime, str]]) -> bytes:
    urls = "".join(
        f"<url><loc>{base}{path}</loc><news:news><news:publication><news:name>Test News</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{when.isoformat()}</news:publication_date>"
        f"<news:title>{escape(title)}</news:title></news:news></url>"
        for path, when, title in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>"
    ).encode("utf-8")
