"""Decisions: only a logged-in reviewer records one; the ledger's state is on the page."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from aigc_audit.governance.ledger import Ledger, entry_hash
from tests.dashboard.conftest import log_in, open_page, plain


def _decide(app, decision: str, reason: str, expires: date | None = None):
    app.radio(key="decision_kind").set_value(decision)
    app.text_area(key="decision_reason").input(reason)
    if expires is not None:
        app.date_input(key="decision_expires").set_value(expires)
    app.button(key="decision_submit").click()
    return app.run()


def test_a_decision_is_saved_with_the_reviewers_name(dashboard_store):
    app = open_page("decisions")
    log_in(app)
    assert not app.exception
    assert plain(app.main.success[0].value) == "Logged in as **alice**"
    app.selectbox(key="decide_select").set_value(
        next(f.key for f in dashboard_store.store.findings(dashboard_store.copied_run)
             if f.item_id == "c-2")).run()
    expires = date.today() + timedelta(days=30)
    _decide(app, "waive", "Macbeth is in the public domain", expires)
    assert not app.error, [e.value for e in app.error]
    assert plain(app.main.success[1].value) == ("Recorded ledger entry 1: waive of c-2 under "
                                         "copyright.text.near_duplicate by alice.")
    (entry,) = Ledger(dashboard_store.store).entries()
    assert (entry.reviewer, entry.decision, entry.item_id, entry.expires, entry.reason) == \
        ("alice", "waive", "c-2", expires.isoformat(), "Macbeth is in the public domain")
    assert entry.item_sha256 == dashboard_store.copied_report.item_sha256["c-2"]
    assert entry.run_id == dashboard_store.copied_run
    # The page shows the new decision and an intact ledger straight away.
    assert plain(app.main.info[0].value).startswith(f"**waive** until {expires.isoformat()} by **alice**")
    assert app.selectbox(key="decide_select").format_func(app.selectbox(key="decide_select").value) \
        .endswith("· fail · waive")
    assert plain(app.main.success[2].value).startswith("ledger intact: 1 entries")
    ledger = app.dataframe[0].value
    assert list(ledger["reviewer"]) == ["alice"] and list(ledger["decision"]) == ["waive"]
    # The waiver in force can be taken to the repository, as `ledger export-waivers` writes it.
    (download,) = app.download_button
    assert download.label == "Download the 1 waiver(s) in force as waivers.yaml"


def test_a_decision_without_login_is_refused(dashboard_store):
    app = open_page("decisions")
    assert plain(app.main.warning[0].value).startswith("Log in to record decisions")
    _decide(app, "approve", "looks fine to me")
    assert plain(app.main.error[0].value) == "log in to record a decision: decisions are never anonymous"
    assert Ledger(dashboard_store.store).entries() == []


def test_a_wrong_password_does_not_log_in(dashboard_store):
    app = open_page("decisions")
    log_in(app, password="not the password")
    assert plain(app.main.error[0].value) == "Unknown reviewer or wrong password."
    assert "reviewer" not in app.session_state
    _decide(app, "reject", "copied")
    assert Ledger(dashboard_store.store).entries() == []


def test_a_decision_needs_a_reason(dashboard_store):
    app = open_page("decisions")
    log_in(app)
    _decide(app, "reject", "   ")
    assert plain(app.main.error[0].value) == "a reject decision needs a reason; got an empty one"
    assert Ledger(dashboard_store.store).entries() == []


def test_the_page_verifies_the_ledger_and_shows_a_tampered_row(dashboard_store):
    app = open_page("decisions")
    log_in(app)
    _decide(app, "approve", "first")
    _decide(app, "reject", "second")
    assert plain(app.main.success[-1].value).startswith("ledger intact: 2 entries")
    assert len(app.download_button) == 0  # no waiver in force: nothing to take to the repository
    with dashboard_store.store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER review_ledger_no_update"))
        conn.execute(text("UPDATE review_ledger SET reviewer = 'mallory' WHERE seq = 1"))
    from aigc_audit.dashboard import data

    data.verify_ledger.clear()  # the page re-verifies every few seconds; no need to wait here
    app.run()
    assert plain(app.main.error[0].value) == ("ledger broken at entry 1: its contents do not match its "
                                       "hash: the entry was edited")


def test_the_page_shows_a_forged_row_with_a_valid_hash_as_broken(dashboard_store):
    app = open_page("decisions")
    log_in(app)
    _decide(app, "approve", "first")
    (first,) = Ledger(dashboard_store.store).entries()
    # Hash and link right, as anyone who can write the store can make them; the signature is not.
    forged = {**first.hashed_fields(), "seq": 2, "reviewer": "mallory", "decision": "waive",
              "expires": "2099-12-31", "prev_hash": first.entry_hash}
    with dashboard_store.store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER review_ledger_insert_at_head"))
        conn.execute(text("INSERT INTO review_ledger VALUES (:seq, :created_at, :reviewer, :decision, "
                          ":rule_id, :item_id, :item_sha256, :run_id, :samples_sha256, :reason, :expires, "
                          ":prev_hash, :entry_hash, 'AAAA')"), {**forged, "entry_hash": entry_hash(forged)})
    from aigc_audit.dashboard import data

    data.verify_ledger.clear()
    app.run()
    assert plain(app.main.error[0].value).startswith("ledger broken at entry 2: its reviewer 'mallory' "
                                                     f"has no public key in {dashboard_store.reviewers}.keys")


def test_no_decision_is_preselected(dashboard_store):
    app = open_page("decisions")
    log_in(app)
    assert app.radio(key="decision_kind").value is None
    app.text_area(key="decision_reason").input("looks fine")
    app.button(key="decision_submit").click().run()
    assert plain(app.main.error[0].value) == ("choose a decision (approve, waive or reject): "
                                              "none is preselected")
    assert Ledger(dashboard_store.store).entries() == []


def test_a_group_is_decided_at_once_with_one_reason(review_store):
    app = open_page("decisions")
    log_in(app)
    app.switch_page("views/flagged.py").run()
    app.radio(key="flagged_view").set_value("grouped by training item").run()
    app.button(key="decide_group_0").click().run()  # ref-5, the largest group
    assert not app.exception
    app.switch_page("views/decisions.py")  # where the button went; AppTest's next run stays there
    assert app.radio(key="decide_mode").value == "several findings at once"
    items = {f.key: f.item_id for f in review_store.report.findings}
    selected = app.multiselect(key="decide_bulk").value
    assert [items[k] for k in selected] == [f"ref-5-copy-{i}" for i in range(4)]
    assert app.radio(key="bulk_kind").value is None
    app.radio(key="bulk_kind").set_value("reject")
    app.text_area(key="bulk_reason").input("Macbeth, **verbatim**: not ours to ship")
    app.button(key="bulk_submit").click().run()
    assert not app.error, [e.value for e in app.error]
    assert plain(app.main.success[-2].value) == ("Recorded 4 decision(s), ledger entries 1 to 4: reject by "
                                                "alice, reason: Macbeth, **verbatim**: not ours to ship")
    from aigc_audit.governance.store import RunStore

    entries = Ledger(RunStore(review_store.url)).entries()
    assert [(e.item_id, e.decision, e.reason) for e in entries] == [
        (f"ref-5-copy-{i}", "reject", "Macbeth, **verbatim**: not ours to ship") for i in range(4)]
    assert app.multiselect(key="decide_bulk").value == []
    # The reviewer picks the next group on this page: its findings are selected.
    app.radio(key="decide_group_by").set_value("training item").run()
    app.selectbox(key="decide_group").set_value("ref-2").run()
    selected = app.multiselect(key="decide_bulk").value
    assert [items[k] for k in selected] == [f"ref-2-copy-{i}" for i in range(3)]
    # The flagged page counts the group as decided.
    app.switch_page("views/flagged.py").run()
    app.radio(key="flagged_view").set_value("grouped by training item").run()
    groups = app.dataframe[0].value
    assert list(groups["rejected"]) == [4, 0, 0, 0] and list(groups["undecided"]) == [0, 3, 2, 1]


def test_a_selection_is_decided_and_the_review_filter_and_search_narrow_the_list(review_store):
    app = open_page("decisions")
    log_in(app)
    app.radio(key="decide_mode").set_value("several findings at once").run()
    keys = {f.item_id: f.key for f in review_store.report.findings}
    app.multiselect(key="decide_bulk").set_value([keys["ref-1-copy-0"], keys["hostile"]]).run()
    app.radio(key="bulk_kind").set_value("approve")
    app.text_area(key="bulk_reason").input("paraphrase, checked by hand")
    app.button(key="bulk_submit").click().run()
    assert not app.error, [e.value for e in app.error]
    app.multiselect(key="decide_reviews").set_value(["approve"]).run()
    assert app.caption[0].value == "2 of 10 finding(s) shown"
    app.multiselect(key="decide_reviews").set_value(["undecided"]).run()
    assert app.caption[0].value == "8 of 10 finding(s) shown"
    app.text_input(key="decide_search").input("ref-2").run()
    assert app.caption[0].value == "3 of 10 finding(s) shown"
    app.radio(key="decide_mode").set_value("one finding at a time").run()
    select = app.selectbox(key="decide_select")
    assert [o.split(" · ")[1] for o in select.options] == [f"ref-2-copy-{i}" for i in range(3)]
    app.button(key="decide_next").click().run()
    assert app.selectbox(key="decide_select").value == keys["ref-2-copy-1"]


def test_a_reason_is_shown_as_text(dashboard_store):
    app = open_page("decisions")
    log_in(app)
    _decide(app, "reject", "see ![t](http://127.0.0.1:9/x.png) and <b>this</b> # now")
    note = app.main.info[0].value
    assert "![" not in note and "](" not in note and "<b>" not in note
    assert plain(note).endswith("see ![t](http://127.0.0.1:9/x.png) and <b>this</b> # now")
