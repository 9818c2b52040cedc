"""``report.html``: self-contained, escaped, bounded in size, and rendered by a real browser."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from aigc_audit.governance import reports
from aigc_audit.governance.report import Finding, SetSummary, UnreadableItem
from aigc_audit.governance.reports import html as html_report
from aigc_audit.sampleset import load_sample_set
from tests.conftest import write_jsonl
from tests.governance.report_factory import evaluation, finding, make_report, outcome

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="headless Chromium (/usr/bin/chromium) is not installed")

# Would change the page if anything in it ran or loaded: a script, an event handler, a remote image,
# Markdown image syntax, a style that loads a URL, a closing tag that tries to leave a <code>.
HOSTILE = ("<script>document.title='PWNED'</script>"
           "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
           "![t](http://tracker.example/x.png) </code></div><style>body{background:url(http://e.x/a)}</style>"
           "\"'><svg onload=alert(1)>")


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _hostile_report():
    return make_report(
        verdict="fail", rules=[outcome(HOSTILE, "fail", 1.0, reason=HOSTILE, n_flagged=1)],
        findings=[Finding(HOSTILE, HOSTILE, "error", "fail", HOSTILE, 1.0,
                          {"match_text": HOSTILE, "shared": [{"text": HOSTILE}]})],
        item_errors=[UnreadableItem(HOSTILE, HOSTILE)])


def _chromium_dom(page: Path) -> str:
    result = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                             "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_hostile_text_is_escaped_everywhere():
    page = html_report.render(_hostile_report())
    tags = _tags(page)
    names = [tag for tag, _ in tags]
    assert "script" not in names and "svg" in names  # the charts' svg only
    assert all(not attr.startswith("on") for _, attrs in tags for attr in attrs)
    assert all(attrs["src"].startswith("data:image/png;base64,") for tag, attrs in tags if tag == "img")
    assert names.count("style") == 1  # ours; the sample's <style> is text
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;" in page
    assert "http://tracker.example" in page and 'src="http://' not in page


# Markup-heavy text: tags, attributes, quotes, entities, comments and CDATA in any order.
_MARKUP = st.lists(st.sampled_from(list("<>&\"'/=!-[]; ") + ["script", "img", "on", "src", "x", "CDATA",
                                                               "&#60;", "\x00", "\u2028"]),
                   max_size=40).map("".join)


@settings(max_examples=150, deadline=2000)
@given(text=_MARKUP)
def test_no_text_adds_a_tag_or_attribute_to_the_page(text):
    rule, item = text or "r", text or "i"
    report = make_report(verdict="fail", rules=[outcome(rule, "fail", 1.0, reason=text, n_flagged=1)],
                         findings=[Finding(rule, item, "error", "fail", text, 1.0, {text: text})],
                         item_errors=[UnreadableItem(text, text)])
    plain = make_report(verdict="fail", rules=[outcome("r", "fail", 1.0, reason="x", n_flagged=1)],
                        findings=[Finding("r", "i", "error", "fail", "x", 1.0, {"k": "x"})],
                        item_errors=[UnreadableItem("i", "x")])
    # The same report with harmless text has the same tags with the same attribute names.
    def shape(page):
        return [(tag, sorted(attrs)) for tag, attrs in _tags(page)]
    assert shape(html_report.render(report)) == shape(html_report.render(plain))


def test_page_forbids_scripts_and_remote_loads():
    page = html_report.render(_hostile_report())
    (csp,) = [attrs["content"] for tag, attrs in _tags(page)
              if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src data:" in csp and "script-src" not in csp


@needs_chromium
def test_hostile_page_runs_and_loads_nothing_in_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report.render(_hostile_report()), encoding="utf-8")
    dom = _chromium_dom(page)
    assert "<h1>aigc-audit" in dom  # the page rendered
    (body,) = re.findall(r"<body[^>]*>", dom)
    assert body == "<body>" and "<title>PWNED" not in dom  # no handler set the attribute or title
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;document.title" in dom  # shown as text


def _big_report(n_items: int, message: str = "similar to a training text"):
    half = n_items // 2
    findings = [Finding(rule, f"item-{i:05d}", "error", "fail", f"{message} {i}", 0.9,
                        {"similarity": 0.9, "match_id": f"ref-{i}", "match_text": "words " * 40})
                for rule, lo in (("copy.a", 0), ("copy.b", half)) for i in range(lo, lo + half)]
    scores = {f"item-{i:05d}": (i % 100) / 100 for i in range(n_items)}
    return make_report(verdict="fail", rules=[outcome("copy.a", "fail", 0.5, n_flagged=half),
                                              outcome("copy.b", "fail", 0.5, n_flagged=half)],
                       findings=sorted(findings), evaluations=[evaluation("e", scores)])


def test_ten_thousand_items_stay_under_the_bound_and_say_what_is_left_out():
    page = html_report.render(_big_report(10_000))
    assert len(page.encode("utf-8")) < html_report.MAX_PAGE_BYTES
    assert page.count('<div class="finding">') == 2 * html_report.PER_RULE
    assert f"{html_report.PER_RULE} of 5000 shown" in page and "the other 4975 are in report.json" in page


def test_huge_texts_stop_the_findings_at_the_size_bound():
    page = html_report.render(_big_report(2_000, message="<&>" * 5_000))
    assert len(page.encode("utf-8")) < html_report.MAX_PAGE_BYTES
    assert page.count("[") > 0 and "more characters in report.json" in page
    assert "of 1000 shown" in page


@needs_chromium
def test_ten_thousand_item_page_renders_in_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report.render(_big_report(10_000)), encoding="utf-8")
    dom = _chromium_dom(page)
    assert dom.count('class="finding"') == 2 * html_report.PER_RULE
    assert "the other 4975 are in report.json" in dom


def test_histogram_counts_scores_into_equal_bins():
    assert html_report.histogram([0.0, 0.05, 0.15, 0.99, 1.0, 1.7, -1, None], bins=10) == \
        [3, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    # Infinite scores are clipped like any other out of range; NaN, like None, is not counted.
    assert html_report.histogram([float("inf"), float("-inf"), float("nan")], bins=10) == \
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_chart_bars_are_proportional_to_flagged_counts():
    svg = html_report.flagged_chart([outcome("a", "fail", n_flagged=10), outcome("b", "pass", n_flagged=5)])
    widths = [float(w) for w in re.findall(r'<rect x="260" y="\d+" width="([\d.]+)"', svg)]
    assert widths == [420.0, 210.0]


def _image_sets(tmp_path: Path):
    samples, reference = tmp_path / "samples", tmp_path / "reference"
    for folder, colour in ((samples, (200, 30, 30)), (reference, (30, 30, 200))):
        folder.mkdir()
        Image.new("RGB", (300, 200), colour).save(folder / "a.png")
    write_jsonl(samples / "manifest.jsonl", [{"id": "gen-1", "modality": "image", "path": "a.png"}])
    write_jsonl(reference / "manifest.jsonl", [{"id": "ref-1", "modality": "image", "path": "a.png",
                                                "source": "s", "license": "l"}])
    summaries = [SetSummary.of(load_sample_set(samples, role="samples")),
                 SetSummary.of(load_sample_set(reference, role="reference"))]
    report = make_report(verdict="fail", rules=[outcome("copy.image", "fail", n_flagged=1)],
                         findings=[Finding("copy.image", "gen-1", "error", "fail", "copy", 1.0,
                                           {"match_id": "ref-1"})])
    return replace(report, samples=summaries[0], reference=summaries[1]), samples


def _data_images(page: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
            for tag, attrs in _tags(page) if tag == "img" for src in [attrs["src"]]]


def test_image_items_are_inlined_as_small_thumbnails_with_their_match(tmp_path):
    report, _ = _image_sets(tmp_path)
    images = _data_images(html_report.render(report))
    assert len(images) == 2  # the generated image and its training match
    assert all(max(im.size) <= html_report.THUMB_SIDE and im.format == "PNG" for im in images)
    assert images[0].size == (96, 64)  # aspect ratio kept
    assert images[0].convert("RGB").getpixel((5, 5)) == (200, 30, 30)
    assert images[1].convert("RGB").getpixel((5, 5)) == (30, 30, 200)


def test_an_unreadable_image_gets_no_thumbnail_and_breaks_nothing(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    write_jsonl(samples / "manifest.jsonl", [{"id": "b", "modality": "image", "path": "broken.png"}])
    summary = SetSummary.of(load_sample_set(samples, role="samples"))
    report = make_report(verdict="fail", rules=[outcome("integrity", "fail", n_flagged=1)],
                         findings=[Finding("integrity", "b", "error", "fail", "cannot decode", 1.0)])
    page = html_report.render(replace(report, samples=summary))
    assert "cannot decode" in page and _data_images(page) == []


def test_changed_image_set_leaves_thumbnails_out_and_says_so(tmp_path):
    report, samples = _image_sets(tmp_path)
    Image.new("RGB", (300, 200), (0, 255, 0)).save(samples / "a.png")
    page = html_report.render(report)
    assert "changed since the audit" in page
    assert len(_data_images(page)) == 1  # the unchanged reference match only


def test_html_is_written_with_the_other_reports(tmp_path):
    report = make_report(verdict="fail", rules=[outcome("r", "fail", n_flagged=1)],
                         findings=[finding("r", "x")])
    written = reports.write_reports(report, tmp_path)
    assert written["html"] == tmp_path / "report.html"
    assert "<h1>aigc-audit" in written["html"].read_text(encoding="utf-8")
