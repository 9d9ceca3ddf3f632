"""The review browser as an admin sees it: `python -m bot review` started as a user starts it,
on a seeded transcript database and the real knowledge index, read in headless Chromium.

It checks what only a browser shows: the conversation view's exchange, rendered answer,
sources and feedback; the links from table rows to it; the dashboard's charts actually drawn
as SVG marks by the bundled Vega; no errors on any page's console, and no request leaving
the machine.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.browser import ReviewServer, browser_page, chromium, wait_for_charts
from tests.helpers.review_data import CONSULTANT, HOSTILE_COMMENT, TRADEMARKS, move_to_yesterday, seed_review

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium): no browser to drive"
)


def test_conversation_view_turn_links_and_dashboard_in_chromium(tmp_path, shared_index_dir):
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")
    ids = asyncio.run(seed_review(tmp_path))
    move_to_yesterday(tmp_path, ids["cost"])
    index = {"INDEX_DIR": str(shared_index_dir / "index")}
    with ReviewServer(tmp_path, env=index) as server, browser_page(server.login, only=server.base) as (page, log):
        page.goto(f"{server.base}/-/conversation/{ids['conversation']}")
        credit = page.locator(f"#turn-{ids['credit']}")
        assert credit.locator(".question").inner_text() == "How can a bakery borrow without collateral?"
        answer = credit.locator(".answer")
        assert answer.locator("li").count() == 2 and answer.locator("strong").inner_text() == "Traceable sales"
        assert answer.locator("b").count() == 0 and "<b>invoice finance</b>" in answer.inner_text()  # HTML stays text
        assert answer.locator("a.cite").first.get_attribute("href") == f"#turn-{ids['credit']}-source-1"
        sources = credit.locator("ol.sources li")
        assert sources.count() == 2
        first = sources.nth(0).inner_text()
        assert "Credit without collateral" in first and "credit/collateral.md" in first and "0.83" in first
        assert "offline answer" in credit.inner_text() and "120 ms" in credit.inner_text()
        feedback = credit.locator(".feedback").inner_text()
        assert "👎" in feedback and HOSTILE_COMMENT in feedback  # the owner's markup shown, not run
        assert "👍" in page.locator(f"#turn-{ids['cost']} .feedback").inner_text()
        consultant = page.locator(f"#turn-{ids['human']}")
        assert consultant.locator(".consultant").inner_text() == CONSULTANT
        assert consultant.locator(".answer strong").inner_text() == "send me the offer"
        assert "passed to a consultant" in page.locator(f"#turn-{ids['handover']}").inner_text()
        assert "Hand-over 1: open" in page.locator(".handover").inner_text()

        page.goto(f"{server.base}/transcripts/turns")  # every row links to its place in the conversation
        row_link = page.locator(f'a.chat-link[href$="/-/conversation/{ids["conversation"]}#turn-{ids["credit"]}"]')
        assert row_link.count() == 1 and page.locator("td ol.sources").count() >= 1
        row_link.click()
        page.wait_for_url(f"**/-/conversation/{ids['conversation']}#turn-{ids['credit']}")

        page.goto(f"{server.base}/transcripts/thumbs_down_recent")
        assert HOSTILE_COMMENT in page.locator("table").inner_text()
        page.locator(f'a.chat-link[href$="#turn-{ids["credit"]}"]').first.click()
        page.wait_for_url(f"**/-/conversation/{ids['conversation']}#turn-{ids['credit']}")

        page.goto(f"{server.base}/-/dashboard")
        wait_for_charts(page, [f"#chart-{name} svg .mark-{mark} path" for name, mark in CHARTS])
        assert page.locator("#chart-questions svg .mark-rect path").count() >= 2  # today and yesterday
        gap = page.locator(".gap-themes a", has_text=TRADEMARKS[0][:20]).first
        trademark_ids = sorted(ids[f"trademark{n}"] for n in range(len(TRADEMARKS)))
        assert gap.get_attribute("href").endswith("id__in=" + ",".join(map(str, trademark_ids)))
        gap.click()
        page.wait_for_url("**/transcripts/turns?id__in=*")
        assert page.locator("table.rows-and-columns tbody tr").count() == len(TRADEMARKS)
    assert log.errors == [], log.errors
    assert log.blocked == [], f"pages asked for things outside the review server: {log.blocked}"


CHARTS = [("questions", "rect"), ("feedback", "rect"), ("not-covered", "rect"), ("latency", "rect"), ("gaps", "rect")]
