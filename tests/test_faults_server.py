"""Server-side faults of issue 11: image bombs, API parameters that used to answer 500, run ids holding "/",
security headers. Each bad input gets a 4xx JSON (or the HTML error page for a browser), never a 500.

The data: bench_dashboard's synthetic run (3 identities, 2 cameras) in a SQLite file, built in well under a second;
one more run stored under the id ``a/b``.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mtmct.dashboard import create_app
from test_dashboard_api import load_bench

MTMCT = str(Path(sys.executable).with_name("mtmct"))
BOMB_SIDE = 30000  # 900 megapixels: 2.7 GB once decoded to BGR, 18x the 50-megapixel default


def png_bomb(path: Path, side: int = BOMB_SIDE) -> Path:
    """A black ``side`` x ``side`` 1-bit greyscale PNG (about 110 KB for 30000), written row-chunk by row-chunk so
    the test never holds the raw pixels; every decoder that honours IMREAD_COLOR expands it to side*side*3 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\0" * (1 + (side + 7) // 8)  # filter byte 0 + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row * 1000) for _ in range(side // 1000)) + z.compress(row * (side % 1000)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from storage import Repository, open_database

    url = f"sqlite:///{tmp_path_factory.mktemp('faults') / 'runs.db'}"
    load_bench().build_run(url, identities=3, cameras=2).db.close()
    load_bench().build_run(url, run_id="a/b", identities=2, cameras=2).db.close()
    db = open_database(url)
    try:
        assert {r.id for r in Repository(db).list_runs()} == {"synthetic", "a/b"}
    finally:
        db.close()
    return url


@pytest.fixture(scope="module")
def client(url: str) -> TestClient:
    with TestClient(create_app(url), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return png_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png")


# path -> the 4xx it must answer (each used to be 500, a 140 MB answer, or a 404 of a listed run)
BAD = [
    ("/api/runs/synthetic/identities/9223372036854775808", 422),  # over SQL BIGINT: was an overflow, 500
    ("/api/runs/synthetic/identities/99999999999999999999999", 422),
    ("/api/runs/synthetic/identities/-9223372036854775809", 422),
    ("/api/runs/synthetic/identities/-1", 404),
    ("/api/runs/synthetic/identities/9223372036854775807", 404),  # a valid id nobody has
    ("/api/runs/synthetic/identities/9223372036854775808/trajectory/c1.jpg", 422),
    ("/api/runs/synthetic/flows?bin_s=1e-300", 422),  # was 500
    ("/api/runs/synthetic/flows?bin_s=3e-6", 422),  # was a 140 MB answer
    ("/api/runs/synthetic/flows?bin_s=0.05", 422),  # under MIN_BIN_S
    ("/api/runs/synthetic/flows?bin_s=0", 422),
    ("/api/runs/synthetic/flows?bin_s=nan", 422),
    ("/api/runs/nope/flows", 404),
    ("/api/runs/a/b/nope", 404),
]


@pytest.mark.parametrize(("path", "status"), BAD)
def test_bad_api_parameters_answer_4xx_json(client: TestClient, path: str, status: int) -> None:
    res = client.get(path)
    assert res.status_code == status, res.text[:300]
    assert set(res.json()) == {"error"} and "\n" not in res.json()["error"]


def test_bad_parameters_of_a_page_answer_the_html_error_page(client: TestClient) -> None:
    res = client.get("/runs/synthetic/identities/9223372036854775808", headers={"accept": "text/html"})
    assert res.status_code == 422 and res.headers["content-type"].startswith("text/html")
    res = client.get("/runs/synthetic/flows?bin_s=3e-6", headers={"accept": "text/html"})
    assert res.status_code == 422 and "greater than or equal to 0.1" in res.text


def test_too_many_bins_are_refused_before_any_array_is_built(client: TestClient,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from mtmct.dashboard import flows

    monkeypatch.setattr(flows, "MAX_BINS", 3)
    res = client.get("/api/runs/synthetic/flows?bin_s=1")
    assert res.status_code == 422 and "into more than 3 intervals: use bin_s >=" in res.json()["error"]
    hint = float(res.json()["error"].rsplit(">=", 1)[1])
    assert client.get(f"/api/runs/synthetic/flows?bin_s={hint * 1.01}").status_code == 200


def test_flows_say_which_bin_is_fine_and_it_is(client: TestClient) -> None:
    from mtmct.dashboard.flows import MAX_BINS, MIN_BIN_S

    res = client.get(f"/api/runs/synthetic/flows?bin_s={MIN_BIN_S}")
    assert res.status_code == 200 and len(res.json()["bins"]) <= MAX_BINS  # the synthetic run spans ~60-120 s
    assert client.get("/api/runs/synthetic/flows?bin_s=86400").json()["bins"] == [0.0]


@pytest.mark.parametrize("path", [
    "/api/runs/a/b", "/api/runs/a/b/timeline", "/api/runs/a/b/graph", "/api/runs/a/b/flows",
    "/api/runs/a/b/identities/1", "/runs/a/b", "/runs/a/b/graph", "/runs/a/b/flows", "/runs/a/b/identities/1",
    "/api/runs/a%2Fb", "/runs/a%2Fb/flows",
])
def test_a_run_id_with_a_slash_is_reachable(client: TestClient, path: str) -> None:
    res = client.get(path, headers={"accept": "text/html"} if path.startswith("/runs") else {})
    assert res.status_code == 200, (path, res.text[:300])
    if path.startswith("/api/runs/a/b") and path.count("/") == 4:
        assert res.json()["id"] == "a/b"


def test_the_runs_page_links_every_run_to_its_own_page(client: TestClient) -> None:
    import re

    page = client.get("/", headers={"accept": "text/html"}).text
    links = re.findall(r'class="run-link" href="([^"]+)"', page)
    assert sorted(links) == ["/runs/a/b", "/runs/synthetic"]
    for link in links:
        assert client.get(link, headers={"accept": "text/html"}).status_code == 200
    # and the other runs' routes are not shadowed by the run-id catch-all
    assert client.get("/api/runs/synthetic").json()["id"] == "synthetic"
    assert client.get("/api/runs/synthetic/timeline").status_code == 200


@pytest.mark.parametrize("path", ["/", "/runs/synthetic", "/runs/a/b/flows", "/search", "/api/runs", "/api/health",
                                  "/api/runs/nope", "/api/runs/synthetic/identities/9223372036854775808",
                                  "/static/timeline.js", "/docs", "/openapi.json"])
def test_every_answer_carries_security_headers(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code < 500
    csp = res.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    if path != "/docs":  # Swagger UI starts from an inline script; no page of ours has one
        assert "script-src 'self';" in csp
    assert res.headers["x-frame-options"] == "DENY"
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["referrer-policy"] == "same-origin"


def test_an_oversized_declared_upload_also_carries_the_headers(client: TestClient) -> None:
    res = client.post("/api/search", content=b"x", headers={"content-length": str(100 * 1024 * 1024),
                                                           "content-type": "application/octet-stream"})
    assert res.status_code == 413 and res.headers["x-frame-options"] == "DENY"


def test_the_pages_have_no_inline_script() -> None:
    """The CSP allows scripts from /static only: an inline <script> or on*= handler in a template would stop
    working in a browser (tests/test_dashboard_browser.py runs the pages in Chromium)."""
    import re

    templates = Path(__file__).resolve().parents[1] / "mtmct" / "dashboard" / "templates"
    for t in templates.glob("*.html"):
        text = t.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), t.name
        assert not re.search(r"\son[a-z]+\s*=", text), t.name


# ---- image bombs -------------------------------------------------------------------------------------------------

def test_check_pixels_reads_only_the_header(bomb: Path) -> None:
    from mtmct.query_service import ImageTooLarge, check_pixels

    with pytest.raises(ImageTooLarge, match="30000x30000 = 900 megapixels, over the limit of 50 megapixels"):
        check_pixels(bomb.read_bytes(), "bomb.png")
    check_pixels(bomb.read_bytes(), "bomb.png", max_pixels=10**9)  # under a raised limit
    for junk in (b"", b"not an image", b"\xff\xd8\xff\xe0junk", b"\xff" * 100):  # the decoder refuses them after
        check_pixels(junk)


def _patched(fmt: str) -> bytes:
    """A 16x16 image of ``fmt`` whose header claims 60000x60000 (3.6 gigapixels) or, for BMP, 30000x30000."""
    import cv2
    import numpy as np

    data = bytearray(cv2.imencode(f".{fmt}", np.zeros((16, 16, 3), np.uint8))[1].tobytes())
    if fmt == "jpg":
        at = data.index(b"\xff\xc0") + 5  # SOF0: height, width (big-endian)
        data[at:at + 4] = struct.pack(">HH", 60000, 60000)
    else:  # BMP info header: width, height (little-endian)
        data[18:26] = struct.pack("<ii", 30000, 30000)
    return bytes(data)


@pytest.mark.parametrize(("fmt", "size"), [("jpg", "60000x60000"), ("bmp", "30000x30000")])
def test_bombs_of_other_formats_are_refused_from_the_header(fmt: str, size: str, client: TestClient) -> None:
    res = client.post("/api/search", files={"file": (f"bomb.{fmt}", _patched(fmt), "image/octet-stream")})
    assert res.status_code == 413 and size in res.json()["error"]


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2
    import numpy as np

    from mtmct.core.errors import MtmctError
    from mtmct.query_service import ImageTooLarge, max_pixels_default, read_image

    assert max_pixels_default() == 50_000_000
    png = cv2.imencode(".png", np.zeros((100, 200, 3), np.uint8))[1].tobytes()
    assert read_image(png).shape == (100, 200, 3)
    monkeypatch.setenv("MTMCT_MAX_PIXELS", "19999")
    with pytest.raises(ImageTooLarge, match="200x100"):
        read_image(png)
    monkeypatch.setenv("MTMCT_MAX_PIXELS", "lots")
    with pytest.raises(MtmctError, match="MTMCT_MAX_PIXELS"):
        read_image(png)


def test_search_refuses_a_bomb_with_413(client: TestClient, bomb: Path) -> None:
    t0 = time.monotonic()
    res = client.post("/api/search", files={"file": ("bomb.png", bomb.read_bytes(), "image/png")})
    assert res.status_code == 413 and "900 megapixels" in res.json()["error"]
    assert time.monotonic() - t0 < 1.0


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_bomb_upload_leaves_the_servers_peak_memory_flat(url: str, bomb: Path) -> None:
    """A real `mtmct serve` on 127.0.0.1: three bombs at once answer 413 within a second and the server's peak
    RSS (VmHWM) grows by less than 200 MB (it grew 5.5-7 GB before the pixel limit)."""
    from concurrent.futures import ThreadPoolExecutor

    port = load_bench().free_port()
    proc = subprocess.Popen([MTMCT, "serve", "--db", url, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, "MTMCT_MAX_PIXELS": ""})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, "mtmct serve did not start"
                time.sleep(0.2)
        urllib.request.urlopen(f"{base}/api/runs/synthetic", timeout=5).read()  # warm the routes
        before = _peak_rss_mb(proc.pid)
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bomb.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + bomb.read_bytes() + f"\r\n--{boundary}--\r\n".encode()

        def post(_: int) -> tuple[int, float, bytes]:
            t0 = time.monotonic()
            req = urllib.request.Request(f"{base}/api/search", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
            try:
                with urllib.request.urlopen(req, timeout=30) as res:
                    return res.status, time.monotonic() - t0, res.read()
            except urllib.error.HTTPError as error:
                return error.code, time.monotonic() - t0, error.read()

        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(post, range(3)))
        grown = _peak_rss_mb(proc.pid) - before
        print(f"bomb 413 in {max(t for _, t, _ in answers):.3f} s; peak RSS grew {grown:.1f} MB")
        assert [s for s, _, _ in answers] == [413] * 3, answers
        assert all(b'"error"' in b and b"megapixels" in b for _, _, b in answers)
        assert max(t for _, t, _ in answers) < 1.0
        assert grown < 200
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_query_cli_refuses_a_bomb_in_one_line(bomb: Path, tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = subprocess.run([MTMCT, "query", str(bomb), "--db", f"sqlite:///{tmp_path / 'none.db'}"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1
    assert "30000x30000" in res.stderr and "MTMCT_MAX_PIXELS" in res.stderr
    print(f"mtmct query refused the bomb in {time.monotonic() - t0:.2f} s")
