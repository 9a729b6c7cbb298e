"""axe-core in a Playwright page: the WCAG 2.1 A and AA rules, measured in Chromium.

axe-core is installed by npm into tests/browser/node_modules (`npm ci --prefix tests/browser`,
pinned in tests/browser/package-lock.json). It is evaluated through the DevTools protocol,
so the page's Content-Security-Policy (script-src 'self') does not need loosening.

A page's test is one line: `assert_accessible(page)` once the page is loaded.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

AXE_JS = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the accessibility check, but {AXE_JS} is missing")
        pytest.skip("axe-core not installed (npm ci --prefix tests/browser)")
    return AXE_JS.read_text(encoding="utf-8")


def violations(page, *, context: str | dict | None = None) -> list[dict]:
    """Runs axe-core on the page as it is now; returns its violations of WCAG 2.1 A/AA."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(
        """async ([context, tags]) => {
            const options = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
            const results = await window.axe.run(context || document, options);
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({
                    target: n.target.map(t => Array.isArray(t) ? t.join(' >> ') : t),
                    html: n.html, summary: n.failureSummary,
                })),
            }));
        }""",
        [context, WCAG_21_AA],
    )


def describe(found: list[dict], *, where: str = "") -> str:
    """The violations as a reader wants them: rule, impact, help, then each element."""
    lines = [f"{len(found)} WCAG 2.1 A/AA violation(s){' on ' + where if where else ''}:"]
    for v in found:
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            html = " ".join(node["html"].split())
            lines.append(f"    at {', '.join(node['target'])}")
            lines.append(f"       {html[:300]}")
            if node.get("summary"):
                for detail in node["summary"].splitlines():
                    if detail.strip():
                        lines.append(f"       | {detail.strip()}")
    return "\n".join(lines)


def assert_accessible(page, *, lang: str | None = None, where: str = "") -> None:
    """Fails with every violation listed; checks <html lang> too when `lang` is given."""
    where = where or page.url
    if lang is not None:
        actual = page.evaluate("() => document.documentElement.lang")
        assert actual == lang, f"<html lang={actual!r}> on {where}, expected {lang!r}"
    found = violations(page)
    assert found == [], describe(found, where=where)
