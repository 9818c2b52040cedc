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
    assert plain(app.main.error[0].value).startswith("ledger broken at entry 2: its reviewer 'mallory' has no "
                                              f"public key in {dashboard_store.reviewers}.keys")
