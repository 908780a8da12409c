"""``deepfake-core serve``: the thesis app's HTTP endpoint, back as a small ASGI service.

``uploads`` reads multipart bodies into memory within hard limits, ``app`` judges them
with one loaded detector (:func:`deepfake_core.service.app.create_app`), and ``command``
is the ``serve`` sub-command. Nothing here is imported by ``deepfake-core --help``
beyond ``command``'s constants, so Starlette loads only when the service starts.
"""
