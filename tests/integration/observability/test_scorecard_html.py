"""The HTML scorecard opens offline in headless Chromium with no console errors; its
screenshot is kept under ``.artifacts/scorecard/`` (gitignored) for a human to look at."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from pilothouse.observability.scorecard.compute import compute
from pilothouse.observability.scorecard.html import render_html
from pilothouse.observability.scorecard.records import RunRecord
from tests.integration.observability.browser import chromium, render

ARTIFACTS = Path(__file__).parents[3] / ".artifacts" / "scorecard"
DAY = 86400.0
UNTIL = 20834 * DAY
OUTCOMES = ["success"] * 6 + ["timeout", "tool_error", "limit_hit", "throttled"]

needs_chromium = pytest.mark.skipif(
    chromium() is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium)",
)


def _records(since: float, count: int, agent: str, release: str) -> list[RunRecord]:
    return [
        RunRecord(
            run_id=f"{agent}-{since}-{i}",
            agent=agent,
            release=release,
            created_at=since + i * (7 * DAY / count),
            latency_ms=float(80 + (i * 37) % 4000),
            cost_usd=0.0004 + (i % 5) * 0.0001,
            outcome=OUTCOMES[i % len(OUTCOMES)],
            budget_hit=i % 40 == 0,
            tools={"get_ticket_status": (1, int(i % 9 == 0)), "search_kb": (2, 0)},
            policy={"deny": 1} if i % 25 == 0 else {},
        )
        for i in range(count)
    ]


def _page(tmp: Path) -> Path:
    since = UNTIL - 7 * DAY
    current = _records(since, 300, "support-desk", "rel-1a2b") + _records(
        since, 120, "triage", "rel-9f8e"
    )
    previous = _records(since - 7 * DAY, 250, "support-desk", "rel-1a2b")
    html = render_html(compute(current, previous, since, UNTIL))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = ARTIFACTS / "scorecard.html"
    page.write_text(html, encoding="utf-8")
    return page


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    html = _page(tmp_path).read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"\b(src|href)\s*=", html) and "url(" not in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert html.count("<svg") == 3 * 3  # three charts for the totals and for each group


@needs_chromium
def test_chromium_reports_errors_it_sees(tmp_path: Path) -> None:
    """The harness itself: a page that does log an error and load a missing file."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><img src="missing.png"><script>console.error("probe")</script>')
    rendered = render(page)
    assert any("console.error: probe" in e for e in rendered.errors)
    assert any("missing.png" in e for e in rendered.errors)


@needs_chromium
def test_scorecard_renders_in_chromium_without_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _page(tmp_path)
    rendered = render(page)
    assert rendered.errors == []
    assert rendered.screenshot.startswith(b"\x89PNG") and len(rendered.screenshot) > 20_000
    shot = ARTIFACTS / "scorecard.png"
    shot.write_bytes(rendered.screenshot)
    with capsys.disabled():
        sys.stdout.write(f"\nscorecard: {page}\nscreenshot: {shot}\n")
