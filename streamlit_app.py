"""deepfake-lens dashboard entry point: ``streamlit run streamlit_app.py``.

The pages are registered with ``st.navigation`` in :func:`pages.common.run_app`, so only the
listed files are pages (``pages/common.py`` is a helper module). The list lives there because a
page may also have to register it (see :func:`pages.common.page_setup`).
"""

from __future__ import annotations

from pages import common

common.run_app()
