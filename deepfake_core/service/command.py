"""``deepfake-core serve``: load the model once, then answer HTTP requests with uvicorn.

One process, one event loop, one detector: uvicorn's multi-process mode would load the
model once per process, and the service already queues the model's work (see
:mod:`deepfake_core.service.app`). Only the argument parser is built at import time;
TensorFlow, Starlette and uvicorn load when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepfake_core.errors import DeepfakeLensError

__all__ = ["add_serve_parser", "run_serve"]

_MB = 1024 * 1024


def add_serve_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``serve`` sub-command to ``subparsers``; it sets ``run=run_serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="HTTP service: curl -F file=@image.jpg http://HOST:PORT/deepfake",
        description="Serve the model over HTTP: POST /deepfake (one image in the multipart field 'file', as the "
        "thesis app took it), POST /v1/predict (several 'file' parts), GET /healthz, GET /v1/model (the card). "
        "Answers are JSON with a verdict per face; a file that cannot be read gets a 4xx JSON error. Uploads are "
        "read into memory within the limits below and never written to disk.",
    )
    parser.add_argument("--model", type=Path, default=None, help="model file (default: model/default.keras)")
    parser.add_argument("--allow-legacy", action="store_true", help="allow the thesis' H5 + pickle from model/")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-upload-mb", type=float, default=10.0, help="largest image accepted (default 10 MB)")
    parser.add_argument("--max-files", type=int, default=16, help="images per /v1/predict request (default 16)")
    parser.add_argument(
        "--max-pending", type=int, default=4, help="requests holding their uploads in memory at once (default 4)"
    )
    parser.set_defaults(run=run_serve)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from deepfake_core.judge import warm_up_face_step
    from deepfake_core.loading import legacy_allowed_by_env, load_detector
    from deepfake_core.service.app import create_app
    from deepfake_core.service.uploads import UploadLimits

    if min(args.max_upload_mb, args.max_files, args.max_pending) <= 0:
        raise DeepfakeLensError("--max-upload-mb, --max-files and --max-pending must be positive.")
    limits = UploadLimits(max_file_bytes=int(args.max_upload_mb * _MB), max_files=args.max_files)
    detector = load_detector(args.model, allow_legacy=args.allow_legacy or legacy_allowed_by_env())
    warm_up_face_step(detector)
    app = create_app(detector, limits=limits, max_pending=args.max_pending)
    print(f"serving model {detector.model_id} at http://{args.host}:{args.port}/deepfake", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
