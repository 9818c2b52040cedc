"""Data on the pages is text: hostile strings come out as the same text, never as markup."""

from __future__ import annotations

import html
import re

import pytest

from aigc_audit.dashboard.markup import code, highlight_html, html_text, md

HOSTILE = ["![t](http://127.0.0.1:9/x.png)", "[link](http://evil/)", "# Heading", "**bold** _it_",
           "<img src=x onerror=alert(1)>", ":red[red] :material/home:", "$x^2$", "- item\n\n1. list",
           "a | b\n--|--", "`code` ``two``", "back\\slash", "line\nbreak\r\nand more"]


def _unescape_md(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.mark.parametrize("text", HOSTILE)
def test_md_escapes_every_markdown_character_and_keeps_one_line(text):
    escaped = md(text)
    assert "\n" not in escaped and "\r" not in escaped
    # Every ASCII punctuation character comes escaped by a backslash.
    assert re.fullmatch(r"(?:\\[!-/:-@\[-`{-~]|[^!-/:-@\[-`{-~])*", escaped)
    assert _unescape_md(escaped) == re.sub(r"[\r\n]+", " ", text)


@pytest.mark.parametrize("text", ["c-1", "a`b", "``x``", "`", " padded "])
def test_code_spans_hold_any_text(text):
    span = code(text)
    fence = re.match(r"`+", span).group()
    assert span.endswith(fence) and fence not in span[len(fence):-len(fence)]
    inner = span[len(fence):-len(fence)]
    padded = inner.startswith(" ") and inner.endswith(" ") and len(inner) > 1
    assert (inner[1:-1] if padded else inner) == text
    assert code("c-1") == "`c-1`"


@pytest.mark.parametrize("text", HOSTILE)
def test_html_text_has_no_tag_no_markdown_and_no_line_break(text):
    escaped = html_text(text)
    # Outside its entities (&name; &#n; &#xn;), no character that HTML or Markdown reads.
    assert not re.search(r"[<>\n\r!\[\]()#*_`|$:\\]", re.sub(r"&#?x?[0-9a-zA-Z]+;", "", escaped))
    assert html.unescape(escaped) == text


def test_highlight_marks_spans_inside_one_html_block():
    out = highlight_html("# Title\n\n![t](http://h/x.png) tail", [(9, 29)])
    assert out.startswith('<div style="white-space: pre-wrap; line-height: 1.6">') and out.endswith("</div>")
    assert "\n" not in out and out.count("<mark>") == 1
    assert "<mark>&#33;&#91;t&#93;&#40;http&#58;//h/x.png&#41;</mark>" in out
