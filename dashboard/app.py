"""The review dashboard's entry point: ``aigc-audit dashboard`` runs ``streamlit run`` on it.

Pages live in ``views/`` (not ``pages/``: Streamlit would also serve a folder of that name as
pages of their own, without this entry point) and stay thin: they read through
:mod:`dashboard.data` and draw with :mod:`dashboard.widgets`, :mod:`dashboard.tables` and
:mod:`dashboard.charts`.
"""

import streamlit as st

from aigc_audit.dashboard import widgets

st.set_page_config(page_title="aigc-audit review", page_icon=":material/fact_check:", layout="wide")
navigation = st.navigation([
    st.Page("views/runs.py", title="Runs", icon=":material/list:", default=True),
    st.Page("views/overview.py", title="Run overview", icon=":material/rule:"),
    st.Page("views/flagged.py", title="Flagged items", icon=":material/flag:"),
    st.Page("views/decisions.py", title="Decisions", icon=":material/gavel:"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("views/history.py", title="History", icon=":material/timeline:"),
])
widgets.sidebar_status()
navigation.run()
