"""edgebench dashboard: ``streamlit run dashboard/app.py -- --store URL`` (or set ``$EDGEBENCH_STORE``).

The entry script sets up the page and the navigation; every page loads its records through
``dashboard.data`` (``results.Store`` underneath) and draws with ``dashboard.charts``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import data

# Not "pages/": Streamlit would also serve a "pages" folder as its legacy multipage app, at the same URLs.
_VIEWS = Path(__file__).resolve().parent / "views"


def main() -> None:
    """Configure the page, show which store is open, and run the chosen page."""
    st.set_page_config(page_title="edgebench", page_icon=":material/speed:", layout="wide")
    pages = [
        st.Page(_VIEWS / "tradeoffs.py", title="Trade-offs", icon=":material/scatter_plot:", default=True),
        st.Page(_VIEWS / "devices.py", title="Devices", icon=":material/smartphone:"),
        st.Page(_VIEWS / "models.py", title="Models", icon=":material/table_chart:"),
        st.Page(_VIEWS / "runs.py", title="Runs", icon=":material/compare_arrows:"),
        st.Page(_VIEWS / "records.py", title="Records", icon=":material/table_rows:"),
        st.Page(_VIEWS / "sustained.py", title="Sustained", icon=":material/battery_charging_full:"),
    ]
    page = st.navigation(pages)
    with st.sidebar:
        st.caption(f"Store: `{data.store_url()}`")
    page.run()


main()
