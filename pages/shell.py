"""The app shell: which files are pages, the shared sidebar, and running a page inside both.

The pages are registered with ``st.navigation`` (:func:`run_app`), so only the files listed
there are pages; the helper modules next to them in ``pages/`` (this one included) never are.
``streamlit_app.py`` calls :func:`run_app`, and every page starts with :func:`page_setup`, which
runs the shell itself when Streamlit ran the page directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import streamlit as st

from pages.model_choice import render_sidebar

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

__all__ = ["keep_uploads_in_memory", "page_setup", "run_app"]

_MULTIPART_OVERHEAD_BYTES: Final = 1024 * 1024
"""Room for the multipart headers around an upload of exactly the size limit."""

_VIA_ENTRY_KEY: Final = "_run_via_entry_point"


def _navigation() -> StreamlitPage:
    """Register the pages; the files in ``pages/`` are pages only because they are listed here.

    Every page names its ``url_path``, so its address (``/evaluation``) is part of a shared link and
    stays the same if the file or the title is renamed; the model and threshold ride along as query
    parameters (:mod:`pages.model_choice`).
    """
    st.set_page_config(page_title="deepfake-lens", page_icon=":material/center_focus_strong:", layout="wide")
    return st.navigation(
        [
            st.Page("pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
            st.Page("pages/classify.py", title="Classify", icon=":material/image_search:", url_path="classify"),
            st.Page("pages/explain.py", title="Explain", icon=":material/visibility:", url_path="explain"),
            st.Page(
                "pages/robustness_lab.py", title="Robustness lab", icon=":material/science:", url_path="robustness"
            ),
            st.Page("pages/evaluation.py", title="Evaluation", icon=":material/query_stats:", url_path="evaluation"),
            st.Page("pages/model.py", title="Model", icon=":material/description:", url_path="model"),
        ]
    )


def run_app() -> None:
    """The entry point's whole job: register the pages, draw the shared sidebar, run the chosen page.

    The sidebar is drawn here, outside the page, so its widgets are the same widgets on every page
    and the chosen model holds when the visitor switches pages.
    """
    keep_uploads_in_memory()
    page = _navigation()
    render_sidebar()
    st.session_state[_VIA_ENTRY_KEY] = True
    page.run()


def keep_uploads_in_memory() -> None:
    """Stop the web server from spooling uploads to a temporary file on disk.

    Streamlit parses upload requests with Starlette, whose multipart parser keeps a file part in
    memory only up to ``MultiPartParser.spool_max_size`` (1 MB) and writes the rest to a temporary
    file. Raising that above the upload limit (``server.maxUploadSize``) keeps every accepted upload
    in memory, as promised to analysts with sensitive images. It is a class attribute, so setting it
    once per script run is enough and harmless.
    """
    from starlette.formparsers import MultiPartParser

    limit_bytes = int(st.get_option("server.maxUploadSize")) * 1024 * 1024
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, limit_bytes + _MULTIPART_OVERHEAD_BYTES)


def page_setup() -> None:
    """Every page calls this first, to make sure it runs inside the app shell of :func:`run_app`.

    Because a folder named ``pages/`` sits next to ``streamlit_app.py``, Streamlit runs a page file
    directly, without the entry point, on a server's first request when that is a deep link (and in
    ``AppTest`` after ``switch_page``); it would then list every file in ``pages/`` as a page, the
    helper modules included, and show no sidebar. In that case the app shell is run from here, which
    registers the real navigation and runs the page inside it (its widgets get the same identities
    as in every later run), and the direct run ends.
    """
    if not st.session_state.pop(_VIA_ENTRY_KEY, False):
        run_app()
        st.stop()
