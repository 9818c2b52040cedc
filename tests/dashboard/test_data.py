"""Reading for the pages: viewing never writes to the store."""

from __future__ import annotations

import hashlib

from sqlalchemy import inspect

from aigc_audit.governance.store import RunStore
from tests.dashboard.conftest import log_in, open_app


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_viewing_every_page_leaves_the_store_unchanged(review_store):
    before = _digest(review_store.path)
    app = open_app()
    for page in ("runs", "overview", "flagged", "decisions", "compare", "history"):
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception, (page, app.exception)
    app.switch_page("views/decisions.py").run()
    log_in(app)  # logging in is viewing too
    app.switch_page("views/flagged.py").run()
    app.radio(key="flagged_view").set_value("grouped by training item").run()
    assert not app.exception
    assert _digest(review_store.path) == before
    store = RunStore(review_store.url, read_only=True)
    assert not inspect(store.engine).has_table("review_ledger")


def test_the_first_decision_creates_the_ledger(review_store):
    app = open_app()
    app.switch_page("views/decisions.py").run()
    log_in(app)
    app.radio(key="decision_kind").set_value("approve")
    app.text_area(key="decision_reason").input("a paraphrase")
    app.button(key="decision_submit").click().run()
    assert not app.error, [e.value for e in app.error]
    store = RunStore(review_store.url, read_only=True)
    assert inspect(store.engine).has_table("review_ledger")
