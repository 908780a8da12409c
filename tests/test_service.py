"""The HTTP service (``deepfake-core serve``): the thesis' request, bad files, oversize bodies, several files.

Requests go through Starlette's TestClient against the tiny test model; the body limits are also
checked one level down, on :func:`read_uploads` fed chunk by chunk, to see how much of a body was
read before it was refused.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time

import anyio
import numpy as np
import pytest
from conftest import encode, face_like_image, four_faces, no_face_pictures
from starlette.requests import Request
from starlette.testclient import TestClient
from test_intake import png_file

from deepfake_core.cli import main
from deepfake_core.intake import load_image
from deepfake_core.service.app import create_app
from deepfake_core.service.uploads import RequestRefused, UploadLimits, read_uploads

PNG = encode(face_like_image(seed=1))
JPEG = encode(face_like_image(seed=2), "JPEG")
PADDING = b'--b\r\nContent-Disposition: form-data; name="padding"\r\n\r\n'
"""The start of a multipart body (boundary ``b``) whose first part is a form field the service does not keep."""


@pytest.fixture(scope="module")
def client(tiny_detector):
    with TestClient(create_app(tiny_detector, limits=UploadLimits(max_file_bytes=200_000, max_files=3))) as client:
        yield client


def _post(client, files, path="/deepfake", **params):
    """POST ``files`` (name, bytes) pairs in the multipart field ``file``, as curl -F file=@... does."""
    parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
    return client.post(path, files=parts, params=params)


def test_the_thesis_request_gets_a_verdict_with_sha256_and_model_id(client, tiny_detector):
    response = _post(client, [("photo.png", PNG)])
    body = response.json()
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert body["file"] == "photo.png" and body["error"] is None and body["model_id"] == "default-test"
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    (face,) = body["faces"]
    expected = tiny_detector.predict(load_image(PNG))
    assert face["face"] is None and face["label"] == expected.label
    assert face["p_fake"] == round(expected.p_fake, 6) and face["confidence"] == round(expected.confidence, 6)
    assert face["threshold"] == 0.5 and face["unfamiliar"] is None


def test_the_answer_has_the_command_lines_fields_and_values(client, tiny_model_dir, tmp_path, capsys):
    (tmp_path / "photo.jpg").write_bytes(JPEG)
    main(["predict", str(tmp_path / "photo.jpg"), "--model", str(tiny_model_dir / "default.keras"), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    (face,) = _post(client, [("photo.jpg", JPEG)]).json()["faces"]
    assert face == {key: value for key, value in row.items() if key not in ("file", "sha256")}
    assert face["box"] is None and face["face_score"] is None  # every key, for a whole-image verdict too


def test_faces_and_threshold_are_query_options(client):
    (face,) = _post(client, [("photo.png", PNG)], threshold="0").json()["faces"]
    assert face["label"] == "Fake" and face["threshold"] == 0.0
    for params, message in (
        ({"faces": "some"}, "faces must be one of all, largest, none"),
        ({"threshold": "2"}, "0 to 1"),
    ):
        response = _post(client, [("photo.png", PNG)], **params)
        assert response.status_code == 400 and message in response.json()["error"]


BAD_FILES = [
    ("empty.png", b"", 400, "empty", "empty.png: The file is empty (0 bytes)."),
    ("notes.jpg", b"just some text\n", 415, "not_an_image", "it looks like a text file"),
    ("anim.gif", encode(face_like_image(), "GIF"), 415, "unsupported", "it looks like a GIF image"),
    ("cut.png", PNG[: len(PNG) // 2], 422, "truncated", "truncated or corrupt"),
    ("dot.png", encode(face_like_image(8, 8)), 422, "too_small", "8x8 pixels; each side must be at least 16"),
    ("bomb.png", png_file(9_000, 9_000, bit_depth=8, colour_type=2, raw=b"\x00" * 64), 413, "too_large", "81 MP"),
]


@pytest.mark.parametrize(("name", "data", "status", "reason", "message"), BAD_FILES, ids=[row[3] for row in BAD_FILES])
def test_a_bad_file_is_a_4xx_json_error_naming_the_problem(client, name, data, status, reason, message):
    response = _post(client, [(name, data)])
    body = response.json()
    assert response.status_code == status and body["reason"] == reason and body["file"] == name
    assert body["error"].startswith(f"{name}: ") and message in body["error"]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [
        ({"content": b"raw image bytes", "headers": {"content-type": "image/png"}}, 415, "multipart/form-data"),
        ({"files": {"image": ("a.png", PNG)}}, 400, "No image: send it in the multipart field 'file'"),
        (
            {
                "content": b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + PNG[:100],
                "headers": {"content-type": "multipart/form-data; boundary=b"},
            },
            400,
            "ended before its closing boundary",
        ),
    ],
    ids=["not-multipart", "no-file-field", "unfinished-body"],
)
def test_a_request_without_a_usable_upload_says_what_to_send(client, request_kwargs, status, message):
    response = client.post("/deepfake", **request_kwargs)
    assert response.status_code == status and message in response.json()["error"]


def test_a_file_over_the_limit_is_refused_with_413_naming_it(client):
    big = encode(np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8))
    assert len(big) > 200_000
    response = _post(client, [("small.png", PNG), ("big.png", big)], path="/v1/predict")
    assert response.status_code == 413
    assert response.json()["error"] == "The file 'big.png' is larger than 0.191 MB, the limit per image."


def test_a_chunked_body_over_the_limit_is_refused_with_413(client):
    def body():  # a generator: sent without Content-Length, as chunked transfer encoding
        yield PADDING
        yield from (b"x" * 100_000 for _ in range(10))

    response = client.post("/deepfake", content=body(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and "The request body is larger than" in response.json()["error"]


def test_several_files_get_one_entry_each_in_order_and_a_bad_one_does_not_fail_the_others(client):
    response = _post(client, [("a.png", PNG), ("empty.png", b""), ("b.jpg", JPEG)], path="/v1/predict")
    body = response.json()
    assert response.status_code == 200 and body["model_id"] == "default-test" and body["failed"] == 1
    first, bad, second = body["files"]
    assert bad == {
        "file": "empty.png",
        "error": "empty.png: The file is empty (0 bytes).",
        "reason": "empty",
        "status": 400,
    }
    assert first == _post(client, [("a.png", PNG)]).json() and second == _post(client, [("b.jpg", JPEG)]).json()


def test_more_files_than_allowed_are_refused(client):
    response = _post(client, [(f"{index}.png", PNG) for index in range(4)], path="/v1/predict")
    assert response.status_code == 413 and response.json()["error"] == "Too many files: send at most 3 per request."
    response = _post(client, [("a.png", PNG), ("b.png", PNG)])  # the thesis endpoint takes one
    assert response.status_code == 413 and "at most 1 per request" in response.json()["error"]


def test_health_and_model_card(client, tiny_detector):
    assert client.get("/healthz").json() == {"status": "ok", "model_id": "default-test"}
    card = client.get("/v1/model").json()
    assert card == json.loads(json.dumps(tiny_detector.card.to_dict()))
    assert client.get("/deepfake").status_code == 405


def test_uploads_are_never_written_to_disk(tiny_detector, monkeypatch):
    """Starlette's own form parser would spool this 600 kB upload to a temporary file."""

    def refuse(*args, **kwargs):
        raise AssertionError("an upload was about to be written to a temporary file")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    noise = encode(np.random.default_rng(1).integers(0, 256, (400, 500, 3), dtype=np.uint8))
    with TestClient(create_app(tiny_detector)) as client:
        response = _post(client, [("noise.png", noise)])
    assert len(noise) > 500_000 and response.status_code == 200 and response.json()["error"] is None


def test_model_work_runs_one_file_at_a_time_off_the_event_loop(tiny_detector, monkeypatch):
    """Four clients at once: each gets its answer, the model never runs twice at once, /healthz answers meanwhile.

    The model call waits until the test lets it go, after /healthz has answered: were the model run on the
    event loop, /healthz could not answer while a call is in progress.
    """
    running, most, lock, release = 0, 0, threading.Lock(), threading.Event()
    predict_batch = tiny_detector.predict_batch

    def held_predict_batch(*args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(timeout=30)
        with lock:
            running -= 1
        return predict_batch(*args, **kwargs)

    monkeypatch.setattr(tiny_detector, "predict_batch", held_predict_batch)
    answers: list = [None] * 4
    with TestClient(create_app(tiny_detector)) as client:

        def ask(index: int) -> None:
            answers[index] = _post(client, [(f"{index}.png", PNG)]).json()

        threads = [threading.Thread(target=ask, args=(index,)) for index in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while running == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        health = client.get("/healthz")
        busy_while_healthy = running
        release.set()
        for thread in threads:
            thread.join()
    assert health.status_code == 200 and busy_while_healthy == 1 and most == 1
    assert [answer["file"] for answer in answers] == ["0.png", "1.png", "2.png", "3.png"]
    assert len({answer["faces"][0]["p_fake"] for answer in answers}) == 1


def test_a_picture_without_a_face_is_an_answer_without_a_verdict(tiny_face_detector):
    with TestClient(create_app(tiny_face_detector)) as client:
        cat = _post(client, [("cat.png", encode(no_face_pictures()["cat"]))])
        four = _post(client, [("four.png", encode(four_faces()))], faces="largest")
    assert cat.status_code == 200 and cat.json()["faces"] == []
    assert cat.json()["error"] == "cat.png: no face found: this model judges faces, and none was found in the picture."
    (face,) = four.json()["faces"]
    assert four.status_code == 200 and face["face"] == 1 and len(face["box"]) == 4 and face["label"] in ("Real", "Fake")


# --------------------------------------------------------------------------- the body limits, chunk by chunk


def _read(headers: dict[str, str], chunks: list[bytes], limits: UploadLimits, *, max_files: int = 1):
    """Run :func:`read_uploads` on a request whose body arrives in ``chunks``; returns (result, chunks pulled)."""
    pulled = 0

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/deepfake",
        "query_string": b"",
        "headers": [(key.encode(), value.encode()) for key, value in headers.items()],
    }

    async def run():
        return await read_uploads(Request(scope, receive), field="file", max_files=max_files, limits=limits)

    try:
        return anyio.run(run), pulled
    except RequestRefused as refused:
        return refused, pulled


MULTIPART = {"content-type": "multipart/form-data; boundary=b"}
LIMITS = UploadLimits(max_file_bytes=10_000, max_files=2)


def test_a_declared_length_over_the_limit_is_refused_before_any_body_is_read():
    refused, pulled = _read({**MULTIPART, "content-length": str(10**9)}, [b"x" * 1000] * 5, LIMITS)
    assert isinstance(refused, RequestRefused) and refused.status == 413 and pulled == 0
    assert (
        str(refused) == "The request body is larger than 0.0252 MB: send at most 1 image(s) of up to 0.00954 MB each."
    )


@pytest.mark.parametrize("declared", [None, "100"], ids=["chunked", "lying-content-length"])
def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit(declared):
    headers = MULTIPART if declared is None else {**MULTIPART, "content-length": declared}
    chunks = [PADDING + b"x" * (1000 - len(PADDING)), *[b"x" * 1000] * 999]
    refused, pulled = _read(headers, chunks, LIMITS)
    assert isinstance(refused, RequestRefused) and refused.status == 413
    assert str(refused).startswith("The request body is larger than")
    assert pulled == LIMITS.body_bytes(1) // 1000 + 1  # the first chunk past the limit, not one more


def test_a_body_in_many_small_chunks_is_parsed_whole():
    body = (
        b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="C:\\\\photos\\\\a.png"\r\n\r\n'
        + PNG
        + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="../b.jpg"\r\n\r\n'
        + JPEG
        + b"\r\n--b--\r\n"
    )
    limits = UploadLimits(max_file_bytes=max(len(PNG), len(JPEG)), max_files=2)
    uploads, pulled = _read(
        MULTIPART, [body[start : start + 7] for start in range(0, len(body), 7)], limits, max_files=2
    )
    assert pulled == -(-len(body) // 7)
    assert [(upload.name, upload.data) for upload in uploads] == [("a.png", PNG), ("b.jpg", JPEG)]


def test_serve_refuses_limits_that_are_not_positive(capsys):
    assert main(["serve", "--max-files", "0"]) == 2
    assert "--max-upload-mb, --max-files and --max-pending must be positive." in capsys.readouterr().err
