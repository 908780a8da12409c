"""The HTTP service under concurrent clients: requests/s, latency, errors and server memory, on loopback.

Starts ``deepfake-core serve`` in a subprocess on 127.0.0.1 with the shipped default model
(``model/default.keras``, face step on), then posts the six built-in samples (``samples/*.jpg``,
256 px generated faces) to ``POST /deepfake`` as curl does (multipart field ``file``):

1. **baseline, no HTTP**: the same six files decoded and judged in this process, one at a time,
   through :func:`deepfake_core.scoring.score_inputs` (what the server does per request);
2. **one client**: ``--requests`` requests one after the other (keep-alive);
3. **``--clients`` clients at once** (default 10): ``--requests`` requests each, cycling through the
   samples.

Every answer must be a 200 with the same faces (P(fake), box, label) as the first answer for that
file, or it counts as an error. Peak RSS is the server's ``VmHWM``. Ratios are against the
baseline measured in the same run (the server is idle meanwhile). Figures depend on the machine;
nothing here is a test. Run: ``python benchmarks/serve.py`` (``--clients``, ``--requests``, ``--model``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "deepfake-lens-benchmark"


@dataclass
class Tally:
    """What one phase of the run saw: latency per request in seconds, errors, wall time."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        ordered = sorted(self.latencies)
        p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
        return (
            f"{len(ordered) / self.seconds:6.2f} requests/s   p50 {statistics.median(ordered) * 1000:6.0f} ms   "
            f"p95 {p95 * 1000:6.0f} ms   errors {len(self.errors)} of {len(ordered)}"
        )


def multipart(name: str, data: bytes) -> bytes:
    """The body ``curl -F file=@NAME`` sends."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def memory_mb(pid: int) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` of process ``pid`` in MB: resident memory now and its peak so far."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(model: Path, port: int, log: Path, timeout: float) -> Iterator[subprocess.Popen]:
    """``deepfake-core serve`` on 127.0.0.1:``port``, up once ``/healthz`` answers; always stopped."""
    command = [sys.executable, "-m", "deepfake_core.cli", "serve", "--model", str(model), "--port", str(port)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(port: int, jobs: Sequence[tuple[str, bytes]], expected: dict[str, list], tally: Tally) -> None:
    """Post ``jobs`` one after the other on one keep-alive connection; record latencies and errors."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    for name, body in jobs:
        started = time.perf_counter()
        try:
            connection.request("POST", "/deepfake", body=body, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
        except (OSError, http.client.HTTPException, ValueError) as error:
            tally.errors.append(f"{name}: {type(error).__name__}: {error}")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        tally.latencies.append(time.perf_counter() - started)
        if response.status != 200 or answer["faces"] != expected.setdefault(name, answer["faces"]):
            tally.errors.append(f"{name}: status {response.status}, {json.dumps(answer)[:200]}")


def drive(port: int, uploads: list[tuple[str, bytes]], *, clients: int, requests: int, expected: dict) -> Tally:
    """``clients`` threads at once, ``requests`` requests each, cycling through ``uploads`` from different offsets."""
    tally = Tally()
    plans = [[uploads[(offset + index) % len(uploads)] for index in range(requests)] for offset in range(clients)]
    threads = [threading.Thread(target=client, args=(port, plan, expected, tally)) for plan in plans]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.seconds = time.perf_counter() - started
    return tally


def in_process_baseline(model: Path, samples: list[tuple[str, bytes]], rounds: int) -> float:
    """Files per second when this process decodes and judges the samples itself, one file at a time."""
    from deepfake_core.inputs import InputImage
    from deepfake_core.intake import image_sha256, load_image
    from deepfake_core.judge import warm_up_face_step
    from deepfake_core.loading import load_detector
    from deepfake_core.scoring import score_inputs

    detector = load_detector(model)
    warm_up_face_step(detector)

    def judge(name: str, data: bytes) -> None:
        item = InputImage(Path(name), image=load_image(data), sha256=image_sha256(data))
        score_inputs(detector, [item])

    for name, data in samples:
        judge(name, data)
    started = time.perf_counter()
    for _ in range(rounds):
        for name, data in samples:
            judge(name, data)
    return rounds * len(samples) / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients (default 10)")
    parser.add_argument("--requests", type=int, default=30, help="requests per client (default 30)")
    parser.add_argument("--model", type=Path, default=ROOT / "model" / "default.keras")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the server to start")
    args = parser.parse_args(argv)
    samples = [(path.name, path.read_bytes()) for path in sorted((ROOT / "samples").glob("*.jpg"))]
    uploads = [(name, multipart(name, data)) for name, data in samples]
    expected: dict[str, list] = {}
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"CPU cores: {os.cpu_count()}; load average {load}; model {args.model.relative_to(ROOT)}; 256 px faces")

    baseline = in_process_baseline(args.model, samples, rounds=max(1, args.requests // len(samples)))

    with tempfile.TemporaryDirectory(prefix="deepfake-lens-serve-") as scratch:
        port = free_port()
        with server(args.model, port, Path(scratch) / "server.log", args.timeout) as process:
            # The warm-up's answers are the reference every later answer must equal.
            warm = drive(port, uploads, clients=1, requests=len(uploads), expected=expected)
            idle_rss, _ = memory_mb(process.pid)
            alone = drive(port, uploads, clients=1, requests=args.requests, expected=expected)
            crowd = drive(port, uploads, clients=args.clients, requests=args.requests, expected=expected)
            rss, peak = memory_mb(process.pid)

    crowd_rate, alone_rate = len(crowd.latencies) / crowd.seconds, len(alone.latencies) / alone.seconds
    lines = [
        ("baseline, no HTTP: decode + judge in-process, one file at a time", f"{baseline:6.2f} files/s"),
        (f"one client, {args.requests} requests", alone.summary()),
        (f"{args.clients} clients at once, {args.requests} requests each", crowd.summary()),
        (f"  {args.clients} clients / in-process baseline", f"{crowd_rate / baseline:.2f}x the throughput"),
        (f"  {args.clients} clients / one client", f"{crowd_rate / alone_rate:.2f}x the throughput"),
        ("server RSS after warm-up / after the load", f"{idle_rss:.0f} MB / {rss:.0f} MB"),
        ("server peak RSS (VmHWM)", f"{peak:.0f} MB"),
        ("load average at the end", ", ".join(f"{value:.2f}" for value in os.getloadavg())),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label:<{width}}  {value}")
    errors = warm.errors + alone.errors + crowd.errors
    for line in errors[:10]:
        print(f"  error: {line}")
    print(f"\nresult: {'PASS' if not errors else 'FAIL'} ({len(errors)} errors)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
