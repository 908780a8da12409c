"""deepfake-lens dashboard entry point: ``streamlit run streamlit_app.py``.

The pages are registered with ``st.navigation`` in :func:`pages.shell.run_app`, so only the
listed files are pages (the other modules in ``pages/`` are helpers). The list lives there because
a page may also have to register it (see :func:`pages.shell.page_setup`).
"""

from __future__ import annotations

from pages import shell

shell.run_app()
