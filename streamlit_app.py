"""deepfake-lens dashboard entry point: ``streamlit run streamlit_app.py``.

Registers the pages explicitly with ``st.navigation``, so ``pages/common.py`` is a helper module,
not a page. Each page draws the shared sidebar itself (``common.render_sidebar()``) instead of
this script: Streamlit runs a file in ``pages/`` directly, without this script, on the first run
of a server whose first request is a deep link, and in ``AppTest`` after ``switch_page``; the
sidebar must not disappear then.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="deepfake-lens", page_icon=":material/center_focus_strong:", layout="wide")

page = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/classify.py", title="Classify", icon=":material/image_search:"),
        st.Page("pages/explain.py", title="Explain", icon=":material/visibility:"),
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/query_stats:"),
        st.Page("pages/model.py", title="Model", icon=":material/description:"),
    ]
)
page.run()
