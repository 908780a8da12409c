"""deepfake-lens dashboard entry point: ``streamlit run streamlit_app.py``.

The pages are registered with ``st.navigation`` in :func:`pages.shell.run_app`, so only the
listed files are pages (the other modules in ``pages/`` are helpers). The list lives there because
a page may also have to register it (see :func:`pages.shell.page_setup`).
"""

from __future__ import annotations

from deepfake_core.memory import fix_malloc_thresholds, limit_malloc_arenas, tensorflow_without_onednn

limit_malloc_arenas(2)  # before the model loads: see deepfake_core/memory.py
fix_malloc_thresholds()
tensorflow_without_onednn()  # before TensorFlow is imported

from pages import shell  # noqa: E402  (after the malloc settings, so TensorFlow's threads obey them)

shell.run_app()
