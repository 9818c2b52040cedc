"""Flagged items: the gallery, its filters, and the side-by-side view of one item."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
from PIL import Image

from aigc_audit.governance.ledger import Ledger
from aigc_audit.governance.report import Finding, SetSummary
from aigc_audit.governance.reviewers import authenticate
from aigc_audit.sampleset import content_sha256, load_sample_set
from tests.conftest import write_jsonl
from tests.dashboard.conftest import PASSWORD, open_page, plain


def _finding_key(store, run_id: str, item: str) -> str:
    return next(f.key for f in store.findings(run_id) if f.item_id == item)


def test_gallery_lists_flagged_items_and_filters_by_rule_and_review(dashboard_store):
    report = dashboard_store.copied_report
    alice = authenticate(dashboard_store.reviewers, "alice", PASSWORD)
    Ledger(dashboard_store.store).append(
        alice, decision="waive", rule_id="copyright.text.near_duplicate",
        item_id="c-1", item_sha256=report.item_sha256["c-1"], run_id=report.run_id,
        samples_sha256=report.samples.sha256, reason="public domain",
        expires=date.today() + timedelta(days=7))
    app = open_page("flagged")
    assert app.caption[0].value == "2 of 2 finding(s), worst first"
    cards = [m.value for m in app.main.markdown if "`c-" in m.value]
    assert len(cards) == 2 and "`c-1`" in cards[0] and "review: **waived**" in cards[0]
    assert "review: **undecided**" in cards[1]
    assert app.multiselect(key="flagged_rules").options == ["copyright.text.near_duplicate"]
    app.multiselect(key="flagged_reviews").set_value(["undecided"]).run()
    assert app.caption[0].value == "1 of 2 finding(s), worst first"
    assert "`c-2`" in next(m.value for m in app.main.markdown if "`c-" in m.value)


def test_a_flagged_text_opens_beside_its_training_match(dashboard_store):
    app = open_page("flagged")
    finding = _finding_key(dashboard_store.store, dashboard_store.copied_run, "c-2")
    app.button(key=f"open_{finding}").click().run()
    assert not app.exception
    html = [m.value for m in app.main.markdown if "<mark>" in m.value]
    # The generated text and the training text, each with the shared passage marked.
    assert len(html) == 2
    assert "<mark>Tomorrow and tomorrow and tomorrow creeps in this petty pace from day to</mark> night" \
        in html[0]
    assert "<mark>Tomorrow and tomorrow and tomorrow creeps in this petty pace from day to</mark> day" \
        in html[1]
    assert any("licence: public domain" in plain(c.value) and "test corpus line 5" in plain(c.value)
               for c in app.main.caption)
    figures = {m.label: m.value for m in app.main.metric}
    assert figures["similarity"] == "0.8182"
    assert plain(app.main.info[0].value) == "No decision yet."
    app.button(key="close_finding").click().run()
    assert "open_finding" not in app.session_state


def _png(path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(path)


def _image_finding(dashboard_store, tmp_path, copy: np.ndarray, training: np.ndarray, evidence: dict):
    """The flagged page opened on one stored image finding: ``copy`` matched to ``training``."""
    _png(tmp_path / "images" / "s0.png", copy)
    _png(tmp_path / "train" / "t0.png", training)
    write_jsonl(tmp_path / "images" / "manifest.jsonl",
                [{"id": "img-0", "modality": "image", "path": "s0.png"}])
    write_jsonl(tmp_path / "train" / "manifest.jsonl",
                [{"id": "train-7", "modality": "image", "path": "t0.png", "source": "photo 7",
                  "license": "CC-BY-4.0"}])
    samples = load_sample_set(tmp_path / "images")
    reference = load_sample_set(tmp_path / "train", role="reference")
    # A stored report with one image finding, as an image near-duplicate rule would write it.
    report = replace(dashboard_store.copied_report, run_id="image-run",
                     created_at="2026-11-03T10:00:00+00:00",
                     samples=SetSummary.of(samples), reference=SetSummary.of(reference),
                     item_sha256={"img-0": content_sha256(samples.get("img-0"))}, waived=(),
                     findings=(Finding("copyright.image.near_duplicate", "img-0", "error", "fail",
                                       "pHash distance 2 to training image train-7", 0.97,
                                       {"match_id": "train-7", "match_source": "photo 7",
                                        "match_license": "CC-BY-4.0", **evidence}),))
    dashboard_store.store.record(report)
    app = open_page("flagged")
    assert app.selectbox(key="run_picker_flagged").value == "image-run"
    app.button(key=f"open_{_finding_key(dashboard_store.store, 'image-run', 'img-0')}").click().run()
    assert not app.exception
    return app


def _mean_difference(caption: str) -> float:
    return float(caption.split("(mean ")[1].split(" ")[0])


def test_a_flagged_image_shows_both_images_and_their_difference(dashboard_store, tmp_path):
    rng = np.random.default_rng(0)
    training = rng.integers(0, 256, size=(32, 32, 3))
    copy = training.copy()
    copy[:8, :8] = 0  # one corner blacked out: the only difference
    app = _image_finding(dashboard_store, tmp_path, copy, training, {"hamming": 2})
    images = app.get("image")
    captions = [image.captions[0] for image in images]
    assert all(image.value[0].endswith(".png") for image in images)  # lossless: a fair difference
    assert captions[0] == "generated, 32x32" and captions[1].startswith("training, 32x32")
    assert "pixel difference" in captions[2]
    assert abs(_mean_difference(captions[2]) - np.abs(copy - training).mean()) < 0.1
    assert {m.label: m.value for m in app.main.metric}["hamming"] == "2"


def test_a_match_by_hash_that_names_a_turn_shows_the_training_image_turned(dashboard_store, tmp_path):
    # A smooth picture turned by 10 degrees into black corners, matched as the level look turned
    # back does: by hash, with the turn named.
    y, x = np.mgrid[0:64, 0:64]
    training = np.stack([100 + x * 2, 80 + y * 2, 150 + (x + y) // 2], axis=2)
    picture = Image.fromarray(training.astype(np.uint8))
    copy = np.asarray(picture.rotate(10, resample=Image.Resampling.BICUBIC))
    evidence = {"method": "hash", "rotation": 10.0, "orientation": "as is", "shift": [0, 0]}
    caption = _image_finding(dashboard_store, tmp_path, copy, training, evidence).get("image")[2].captions[0]
    assert "training image turned by 10 degrees" in caption
    # Unturned, the corners and the turned gradient differ far more.
    assert _mean_difference(caption) < np.abs(copy.astype(int) - training).mean() / 3
def test_a_harm_finding_shows_the_item_alone_with_its_category_scores(dashboard_store):
    report = replace(dashboard_store.copied_report, run_id="harm-run",
                     created_at="2026-11-04T10:00:00+00:00", waived=(),
                     findings=(Finding("harm.text.profanity.items", "c-0", "warning", "fail",
                                       "profanity score 0.910 >= 0.5", 0.91,
                                       {"category": "profanity", "category_name": "Profanity",
                                        "threshold": 0.5, "label": "insult",
                                        "scores": {"profanity": 0.91, "violence": 0.05}}),))
    dashboard_store.store.record(report)
    app = open_page("flagged")
    app.button(key=f"open_{_finding_key(dashboard_store.store, 'harm-run', 'c-0')}").click().run()
    assert not app.exception
    assert not any("Best training match" in m.value for m in app.main.markdown)
    assert any("A quiet river wanders through the meadow" in m.value for m in app.main.markdown)
    assert {m.label: m.value for m in app.main.metric} == {"threshold": "0.5"}
    assert "category: profanity · category_name: Profanity · label: insult" in \
        [plain(c.value) for c in app.main.caption]
    (chart,) = app.get("vega_lite_chart")
    assert "score" in chart.proto.spec


def _opened(app) -> str:
    return app.session_state["open_finding"][1]


def test_findings_are_grouped_by_training_item_and_by_rule_with_counts(review_store):
    app = open_page("flagged")
    app.radio(key="flagged_view").set_value("grouped by training item").run()
    assert not app.exception
    groups = app.dataframe[0].value
    assert list(groups["training item"]) == ["ref-5", "ref-2", "ref-1", "ref-0"]
    assert list(groups["findings"]) == [4, 3, 2, 1]
    assert list(groups["undecided"]) == [4, 3, 2, 1] and list(groups["waived"]) == [0, 0, 0, 0]
    assert [e.label for e in app.expander] == [
        "ref\\-5 · 4 finding\\(s\\) · 4 undecided", "ref\\-2 · 3 finding\\(s\\) · 3 undecided",
        "ref\\-1 · 2 finding\\(s\\) · 2 undecided", "ref\\-0 · 1 finding\\(s\\) · 1 undecided"]
    members = app.dataframe[1].value
    assert list(members["item"]) == [f"ref-5-copy-{i}" for i in range(4)]
    app.radio(key="flagged_view").set_value("grouped by rule").run()
    groups = app.dataframe[0].value
    assert list(groups["rule"]) == ["copyright.text.near_duplicate"] and list(groups["findings"]) == [10]
    assert list(groups["training items"]) == [4]


def test_search_finds_by_id_text_and_training_source(review_store):
    app = open_page("flagged")
    app.text_input(key="flagged_search").input("ref-2-copy-1").run()
    assert app.caption[0].value == "1 of 10 finding(s), worst first"
    # Words of the generated text, in any case and order.
    app.text_input(key="flagged_search").input("PACE dusk").run()
    assert app.caption[0].value == "1 of 10 finding(s), worst first"
    assert "ref-5-copy-3" in next(m.value for m in app.main.markdown if "ref-5-copy" in m.value)
    # The training item's source (ref-1 is "test corpus line 1").
    app.text_input(key="flagged_search").input('"test corpus line 1"').run()
    assert app.caption[0].value == "2 of 10 finding(s), worst first"
    app.text_input(key="flagged_search").input("corpus line 1").run()  # words, each anywhere
    assert app.caption[0].value == "10 of 10 finding(s), worst first"
    app.text_input(key="flagged_search").input("nothing like this").run()
    assert app.caption[0].value == "0 of 10 finding(s), worst first"


def test_the_review_filter_names_each_state(review_store):
    report = review_store.report
    alice = authenticate(review_store.reviewers, "alice", PASSWORD)
    from aigc_audit.governance.store import RunStore

    ledger = Ledger(RunStore(review_store.url))
    for item, decision in (("ref-1-copy-0", "approve"), ("ref-1-copy-1", "reject")):
        ledger.append(alice, decision=decision, rule_id="copyright.text.near_duplicate", item_id=item,
                      item_sha256=report.item_sha256[item], run_id=report.run_id,
                      samples_sha256=report.samples.sha256, reason="checked")
    app = open_page("flagged")
    reviews = app.multiselect(key="flagged_reviews")
    assert reviews.options == ["undecided", "approved", "waived", "rejected"]
    for states, shown in ((["approve"], 1), (["reject"], 1), (["waive"], 0), (["undecided"], 8),
                          (["approve", "reject"], 2)):
        app.multiselect(key="flagged_reviews").set_value(states).run()
        assert app.caption[0].value == f"{shown} of 10 finding(s), worst first", states


def test_previous_and_next_walk_the_findings_as_listed(review_store):
    app = open_page("flagged")
    app.text_input(key="flagged_search").input("ref-5").run()
    keys = app.session_state["flagged_order"]  # as listed: worst first
    items = {f.key: f.item_id for f in review_store.report.findings}
    assert [items[key] for key in keys] == [f"ref-5-copy-{i}" for i in range(4)]
    app.button(key=f"open_{keys[0]}").click().run()
    assert _opened(app) == keys[0]
    assert app.button(key="flagged_previous").disabled
    assert app.button(key="flagged_next").proto.shortcut == "j"
    for expected in keys[1:]:
        app.button(key="flagged_next").click().run()
        assert _opened(app) == expected
    assert app.button(key="flagged_next").disabled
    app.button(key="flagged_previous").click().run()
    assert _opened(app) == keys[2]
    assert "finding 3 of 4 shown" in [c.value for c in app.main.caption]


def test_a_markdown_image_in_a_sample_is_shown_as_text(review_store):
    app = open_page("flagged")
    key = next(f.key for f in review_store.report.findings if f.item_id == "hostile")
    app.button(key=f"open_{key}").click().run()
    (generated, _training) = [m for m in app.main.markdown if "<mark>" in m.value]
    assert "![t](" not in generated.value and "http&#58;//127.0.0.1" in generated.value
    assert "&#33;&#91;t&#93;&#40;" in generated.value


def test_a_moved_sample_set_is_named_and_found_again_under_an_items_root(review_store, tmp_path,
                                                                         monkeypatch):
    import shutil

    from aigc_audit.governance.locations import ITEMS_ROOT_ENV

    key = next(f.key for f in review_store.report.findings if f.item_id == "ref-5-copy-0")
    moved = tmp_path / "archive"
    moved.mkdir()
    shutil.move(tmp_path / "release", moved / "release")
    app = open_page("flagged")
    app.button(key=f"open_{key}").click().run()
    warning = plain(app.main.warning[0].value)
    assert warning.startswith(f"the samples set is not at {tmp_path / 'release'} any more: it was moved or "
                              "deleted; start the dashboard with --items-root FOLDER")
    monkeypatch.setenv(ITEMS_ROOT_ENV, str(moved))
    app.run()
    assert plain(app.main.warning[0].value) == (f"the samples set was found at {moved / 'release'} "
                                                f"(recorded at {tmp_path / 'release'}); same content")
    html = [m.value for m in app.main.markdown if "<mark>" in m.value]
    assert len(html) == 2 and "from day to dawn" not in html[0] and "night" in html[0]
