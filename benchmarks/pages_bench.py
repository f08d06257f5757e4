"""Public pages served by BOAS against a plain gunicorn app returning the same bytes, side by side in one run.

    .venv/bin/python benchmarks/pages_bench.py                       # seeds a demo registry (~1 min) first
    .venv/bin/python benchmarks/pages_bench.py --data-dir /tmp/demo  # reuse (or create) a demo data directory
    .venv/bin/python benchmarks/pages_bench.py --duration 10 --connections 16

Both servers are gunicorn with the same number of sync workers on localhost. BOAS serves the demo
registry (``boas demo``) on SQLite; the baseline is a WSGI app that answers each path with the bytes
BOAS returned for it, read once at start (the floor for any Python page server). The load comes from
wrk when it is installed (``apt-get install wrk``), else from a Python load generator (threads, one
keep-alive ``http.client`` connection each), which saturates sooner: compare ratios, not absolute
numbers, between machines. A row "revalidation" sends ``If-None-Match`` with the card's ETag, as a
browser or proxy does once its copy is older than ``max-age``: BOAS answers 304 with no body.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Goals of issue 10: a card at >= 50 % of the plain server, home and catalogue at >= 1,000 req/s.
CARD_RATIO_GOAL, LIST_RATE_GOAL = 0.5, 1000
PAGES = {
    "published card (biased model), fr": "/fr/algorithms/readmission-30-jours/0.9.0",
    "published card, en": "/en/algorithms/hospitalisation-non-programmee/1.1.0",
    "home, fr": "/fr/",
    "catalogue, fr": "/fr/algorithms",
}
PLAIN_APP = '''
import json, os
PAGES = json.load(open(os.environ["PLAIN_PAGES"]))
BODIES = {path: open(file, "rb").read() for path, file in PAGES.items()}

def app(environ, start_response):
    body = BODIES.get(environ["PATH_INFO"])
    if body is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()  # noqa: S310 - our own http:// server
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not start")


def gunicorn(app: str, port: int, workers: int, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level",
                             "warning", app], cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL)


def wrk(url: str, duration: int, connections: int, headers: dict[str, str]) -> float:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", url]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def python_load(url: str, duration: int, connections: int, headers: dict[str, str]) -> float:
    host, _, rest = url.removeprefix("http://").partition("/")
    name, port = host.split(":")
    count, stop = [0] * connections, time.monotonic() + duration

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(name, int(port), timeout=10)
        while time.monotonic() < stop:
            try:
                conn.request("GET", "/" + rest, headers=headers)
                conn.getresponse().read()
                count[i] += 1
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(name, int(port), timeout=10)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / (time.monotonic() - start)


def seed(data_dir: Path) -> None:
    if (data_dir / "boas.db").exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"seeding the demo registry in {data_dir} (about a minute)…", flush=True)
    subprocess.run([str(BIN / "boas"), "demo"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env={**os.environ, "BOAS_DATA_DIR": str(data_dir)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="demo data directory (default: a fresh one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    data_dir = args.data_dir or scratch / "data"
    seed(data_dir)
    load = wrk if shutil.which("wrk") else python_load
    boas_port, plain_port = free_port(), free_port()
    env = {"BOAS_DATA_DIR": str(data_dir), "BOAS_PUBLIC_BASE_URL": f"http://127.0.0.1:{boas_port}"}
    servers = [gunicorn("wsgi:app", boas_port, args.workers, env, ROOT)]
    try:
        boas = f"http://127.0.0.1:{boas_port}"
        wait_up(boas + "/fr/")
        files, etags = {}, {}
        for path in PAGES.values():
            with urllib.request.urlopen(boas + path) as response:  # noqa: S310 - our own http:// server
                file = scratch / f"page-{len(files)}.html"
                file.write_bytes(response.read())
                files[path], etags[path] = str(file), response.headers.get("ETag")
        (scratch / "pages.json").write_text(__import__("json").dumps(files))
        (scratch / "plain_app.py").write_text(PLAIN_APP)
        servers.append(gunicorn("plain_app:app", plain_port, args.workers,
                                {"PLAIN_PAGES": str(scratch / "pages.json")}, scratch))
        plain = f"http://127.0.0.1:{plain_port}"
        wait_up(plain + PAGES["home, fr"])
        print(f"load: {load.__name__}, {args.connections} connections, {args.duration} s each, "
              f"gunicorn with {args.workers} sync workers on both sides")
        print(f"{'page':40} {'bytes':>8} {'BOAS req/s':>11} {'plain req/s':>12} {'ratio':>6}  goal")
        for label, path in PAGES.items():
            size = Path(files[path]).stat().st_size
            ours = load(boas + path, args.duration, args.connections, {})
            floor = load(plain + path, args.duration, args.connections, {})
            goal = (f"ratio >= {CARD_RATIO_GOAL:.0%}: {'met' if ours / floor >= CARD_RATIO_GOAL else 'MISSED'}"
                    if "card" in label else
                    f">= {LIST_RATE_GOAL} req/s: {'met' if ours >= LIST_RATE_GOAL else 'MISSED'}")
            print(f"{label:40} {size:>8} {ours:>11.0f} {floor:>12.0f} {ours / floor:>6.0%}  {goal}", flush=True)
            if etags[path]:
                again = load(boas + path, args.duration, args.connections, {"If-None-Match": etags[path]})
                print(f"{'  revalidation (304, no body)':40} {0:>8} {again:>11.0f} {'':>12} {again / floor:>6.0%}",
                      flush=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
