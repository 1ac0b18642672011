"""Load on the running app: N concurrent gradio_client users stylizing, M learning jobs, then a burst past the queue.

    OMP_NUM_THREADS=1 python -m benchmarks.load_app --users 8 --requests 4 --learners 1 --burst 40

The app runs as it ships (``python app.py`` in a subprocess on 127.0.0.1, its own queue and limits); this process
only drives it. Reported: stylize throughput and p50/p95/max latency (end to end: upload, queue, work, result),
the longest queue seen (``/gradio_api/queue/status``, polled), learning time, errors by message, how a burst of
``--burst`` simultaneous requests is split into served and "busy" (HTTP 503, which the browser shows as "This
application is currently busy"), and the server's peak resident memory. Writes a markdown table to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [ROOT / "assets" / "examples" / "astronaut.jpg", ROOT / "assets" / "examples" / "grace_hopper.jpg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python app.py`` on a free loopback port; samples its resident memory and queue length while it runs."""

    def __init__(self, weights: str, threads: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GRADIO_ANALYTICS_ENABLED": "False"}
        command = [
            sys.executable,
            str(ROOT / "app.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--weights",
            weights,
        ]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.peak_rss = 0
        self.max_queue = 0
        self._stop = threading.Event()

    def wait_ready(self, timeout: float = 300) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"the app exited:\n{self.log.read().decode(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    threading.Thread(target=self._sample, daemon=True).start()
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError("the app did not start")

    def rss(self) -> int:
        proc = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self.rss())
                queued = httpx.get(f"{self.url}gradio_api/queue/status", timeout=2).json().get("queue_size", 0)
                self.max_queue = max(self.max_queue, queued)
            except (httpx.HTTPError, psutil.Error, ValueError):
                pass
            time.sleep(0.2)

    def reset_counters(self) -> None:
        self.max_queue = 0

    def close(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def stylize_args(image: Path) -> tuple:
    return (handle_file(str(image)), "neon", "", 0.5, 1.0, False, 0.0, None)


def timed(fn, *args) -> tuple[float, str | None]:
    """(seconds, None) on success, (seconds, error message) on failure."""
    start = time.monotonic()
    try:
        fn(*args)
        return time.monotonic() - start, None
    except Exception as exc:  # every failure is a result here
        return time.monotonic() - start, f"{type(exc).__name__}: {str(exc)[:80]}"


def user(url: str, requests: int, images: list[Path], offset: int) -> list[tuple[float, str | None]]:
    client = Client(url, verbose=False, download_files=False)
    try:
        return [
            timed(predict, client, *stylize_args(images[(offset + i) % len(images)]), "/stylize")
            for i in range(requests)
        ]
    finally:
        client.close()


def predict(client: Client, *args):
    *inputs, api_name = args
    return client.predict(*inputs, api_name=api_name)


def learner(url: str, steps: int, size: int) -> tuple[float, str | None]:
    client = Client(url, verbose=False, download_files=False)
    samples, content = [handle_file(str(EXAMPLES[1]))], [handle_file(str(EXAMPLES[0]))]
    try:
        return timed(
            lambda: client.predict(
                samples, content, None, None, "load-test", "fast", steps, size, 0, None, api_name="/learn"
            )
        )
    finally:
        client.close()


def summary(results: list[tuple[float, str | None]], seconds: float) -> dict[str, float]:
    ok = sorted(t for t, err in results if err is None)
    q = statistics.quantiles(ok, n=20, method="inclusive") if len(ok) >= 2 else ok * 19 or [float("nan")] * 19
    return {
        "ok": len(ok),
        "failed": len(results) - len(ok),
        "per_s": len(ok) / seconds,
        "p50": statistics.median(ok) if ok else float("nan"),
        "p95": q[18],
        "max": max(ok, default=float("nan")),
    }


def make_large(folder: Path, megapixels: float) -> Path:
    """A large phone-like JPEG (the astronaut, upscaled) to include big uploads in the mix."""
    side = int((megapixels * 1e6 / 12) ** 0.5)
    path = folder / f"large_{megapixels:g}mp.jpg"
    Image.open(EXAMPLES[0]).convert("RGB").resize((4 * side, 3 * side), Image.Resampling.BICUBIC).save(path, quality=90)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--users", type=int, default=8, help="concurrent stylize users")
    parser.add_argument("--requests", type=int, default=4, help="stylize requests per user, one after another")
    parser.add_argument("--large-mp", type=float, default=12.0, help="every 4th request uploads a JPEG this large")
    parser.add_argument("--learners", type=int, default=1, help="learning jobs alongside the users")
    parser.add_argument("--learn-steps", type=int, default=20)
    parser.add_argument("--learn-size", type=int, default=128)
    parser.add_argument("--burst", type=int, default=40, help="simultaneous requests after the steady phase")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.md")
    args = parser.parse_args(argv)

    import app  # the limits as shipped

    server = Server(args.weights, args.threads)
    rows: list[tuple[str, str]] = []
    try:
        startup = server.wait_ready()
        idle_rss = server.rss()
        with tempfile.TemporaryDirectory() as tmp:
            images = [EXAMPLES[0], EXAMPLES[1], EXAMPLES[0], make_large(Path(tmp), args.large_mp)]
            # 1. steady: N users, R requests each, and M learning jobs at the same time
            start = time.monotonic()
            with ThreadPoolExecutor(args.users + args.learners) as pool:
                learns = [
                    pool.submit(learner, server.url, args.learn_steps, args.learn_size) for _ in range(args.learners)
                ]
                users = [pool.submit(user, server.url, args.requests, images, i) for i in range(args.users)]
                stylized = [r for f in users for r in f.result()]
                learned = [f.result() for f in learns]
            steady = time.monotonic() - start
            steady_queue, server.max_queue = server.max_queue, 0
            # 2. burst: more simultaneous requests than the queue holds
            start = time.monotonic()
            clients = [Client(server.url, verbose=False, download_files=False) for _ in range(args.burst)]
            with ThreadPoolExecutor(args.burst) as pool:
                burst = list(pool.map(lambda c: timed(predict, c, *stylize_args(EXAMPLES[0]), "/stylize"), clients))
            burst_seconds = time.monotonic() - start
            for c in clients:
                c.close()
            after = user(server.url, 1, [EXAMPLES[1]], 0)[0]
    finally:
        server.close()

    s, b = summary(stylized, steady), summary(burst, burst_seconds)
    errors = Counter(err for _, err in stylized + burst + learned if err)
    busy = sum(1 for _, err in burst if err and "Queue is full" in err)
    rows = [
        ("server start (load weights, build gallery)", f"{startup:.1f} s"),
        (
            "limits as shipped",
            f"queue {app.QUEUE_SIZE}, stylize concurrency {app.STYLIZE_CONCURRENCY}, learning 1, "
            f"upload {app.MAX_FILE_SIZE}, long side {app.studio.MAX_SIDE} px, "
            f"{app.studio.MAX_PIXELS / 1e6:.0f} MP max",
        ),
        (
            f"steady: {args.users} users × {args.requests} stylize (every 4th a {args.large_mp:g} MP JPEG)",
            f"{s['ok']} ok, {s['failed']} failed in {steady:.1f} s: {s['per_s']:.2f} req/s",
        ),
        ("steady latency p50 / p95 / max", f"{s['p50']:.1f} / {s['p95']:.1f} / {s['max']:.1f} s"),
        ("steady: longest queue seen", f"{steady_queue}"),
        (
            f"learning alongside: {args.learners} × {args.learn_steps} steps at {args.learn_size} px",
            ", ".join(f"{t:.1f} s" + (f" ({e})" if e else "") for t, e in learned) or "none",
        ),
        (
            f"burst: {args.burst} simultaneous stylize",
            f"{b['ok']} served, {busy} told busy (503), {b['failed'] - busy} other errors, in {burst_seconds:.1f} s",
        ),
        ("burst latency of the served p50 / p95 / max", f"{b['p50']:.1f} / {b['p95']:.1f} / {b['max']:.1f} s"),
        ("burst: longest queue seen", f"{server.max_queue}"),
        ("a request after the burst", "ok" if after[1] is None else after[1]),
        ("server memory: idle / peak (RSS)", f"{idle_rss / 2**20:.0f} / {server.peak_rss / 2**20:.0f} MB"),
        ("errors by message", "; ".join(f"{n}× {e}" for e, n in errors.most_common()) or "none"),
    ]
    cpu = f"{os.cpu_count()} cores, OMP_NUM_THREADS={args.threads}, weights {Path(args.weights).name}"
    command = "OMP_NUM_THREADS={} python -m benchmarks.load_app {}".format(
        args.threads, " ".join(sys.argv[1:] if argv is None else argv)
    )
    table = "\n".join(["| measure | value |", "| --- | --- |", *[f"| {k} | {v} |" for k, v in rows]])
    text = f"`{command}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu})\n\n{table}\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
