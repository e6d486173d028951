"""The API under abuse, against a real uvicorn server (custseg.api.serve) on 127.0.0.1.

Oversized and deeply nested bodies, wrong content types, slow and stalled
clients (raw sockets), idle connections, and 1,000 requests from 20 threads.
The server runs in a thread of this process, on a free loopback port, with its
head and body deadlines shortened to keep the file fast; it must answer every
abuse with a 4xx in the one error shape (or close the connection), keep
answering everyone else, never answer 5xx to the load, never crash, and keep
its memory bounded. Everything is bounded in count and time and stops by
itself (the whole file takes well under 40 s).
"""

from __future__ import annotations

import json
import logging
import resource
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import custseg  # noqa: E402
import custseg.api as api  # noqa: E402
from conftest import wait_for_healthz  # noqa: E402
from custseg.datasets import demo_spec_text, make_customers  # noqa: E402

HEAD_SECONDS = 1.0
BODY_SECONDS = 1.5
JSON = {"content-type": "application/json"}
ERROR_KEYS = {"status", "code", "message", "problems"}


def records(n: int, seed: int = 0) -> list[dict]:
    df = make_customers(n, seed=seed).fillna({"minutes_watched": 0})
    df.insert(0, "customer_id", [f"N{seed}-{i}" for i in range(n)])
    return df.to_dict("records")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``custseg.api.serve`` on a free loopback port, in a thread; stopped at the end."""
    spec = custseg.parse_spec(demo_spec_text().replace('kind = "customers"',
                                                        'kind = "customers"\nid = "customer_id"'))
    df = make_customers(300, seed=1)
    df.insert(0, "customer_id", [f"C{i}" for i in range(len(df))])
    model = custseg.CustomerSegmenter(spec, k=3, k_range=(3, 3), stability_runs=0).fit(df).model_
    path = tmp_path_factory.mktemp("abuse") / "model.json"
    custseg.save_model(model, path)

    servers: list = []

    class Recorded(uvicorn.Server):
        def __init__(self, config):
            super().__init__(config)
            servers.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(uvicorn, "Server", Recorded)
        mp.setattr(api.server, "HEAD_SECONDS", HEAD_SECONDS)
        mp.setattr(api.guard, "BODY_SECONDS", BODY_SECONDS)
        mp.delenv(api.TOKEN_ENV, raising=False)
        mp.delenv("CUSTSEG_MODEL_KEY", raising=False)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        failures: list[BaseException] = []

        def run():
            try:
                api.serve(path, host="127.0.0.1", port=port)
            except BaseException as exc:  # reported below
                failures.append(exc)

        thread = threading.Thread(target=run, name="custseg-abuse-server", daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        wait_for_healthz(base, thread, failures)
        try:
            yield {"base": base, "port": port, "thread": thread, "model": model}
        finally:
            for s in servers:
                s.should_exit = True
            thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop within 10 s"
    assert failures == [], failures


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)
    assert "\n" not in body["error"]["message"] and "Traceback" not in response.text
    return body["error"]


def assert_alive(server) -> None:
    assert server["thread"].is_alive()
    r = httpx.get(f"{server['base']}/healthz", timeout=5)
    assert r.status_code == 200, r.text


def raw_request(port: int, head: bytes, body: bytes = b"", timeout: float = 5.0) -> bytes:
    """Send ``head`` and ``body`` on a fresh connection; everything the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def parse(raw: bytes) -> tuple[int, dict]:
    """Status and JSON body of a raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


# ------------------------------------------------------------ oversized bodies
def test_a_declared_oversized_body_is_refused_before_it_is_sent(server):
    head = (b"POST /v1/assign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000000\r\n\r\n")
    t0 = time.monotonic()
    status, body = parse(raw_request(server["port"], head))
    assert status == 413 and body["error"]["code"] == "payload-too-large"
    assert time.monotonic() - t0 < 2  # answered at once, not after reading 50 GB
    assert_alive(server)


def test_an_oversized_streamed_body_is_cut_off_while_counting(server):
    def chunks():  # no Content-Length: chunked, 40 MB offered, 10 MB allowed
        yield b"["
        for _ in range(40):
            yield b" " * 1_000_000

    try:
        r = httpx.post(f"{server['base']}/v1/assign", content=chunks(), headers=JSON, timeout=10)
    except httpx.TransportError:  # the server may close while we are still writing
        pass
    else:
        assert_error(r, 413, "payload-too-large")
    assert_alive(server)


@pytest.mark.parametrize("count", [100_001, 250_000])
def test_too_many_customers_is_413(server, count):
    body = b"[" + b",".join([b"{}"] * count) + b"]"
    r = httpx.post(f"{server['base']}/v1/assign", content=body, headers=JSON, timeout=10)
    assert_error(r, 413, "too-many-records")


# --------------------------------------------------------------- deep nesting
@pytest.mark.parametrize("body", [
    b"[" * 200_000 + b"]" * 200_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"customers": [{"CLV": ' + b"[" * 40 + b"]" * 40 + b"}]}",
    b"[" * 5_000_000,  # unclosed, 5 MB
], ids=["lists", "objects", "in-a-field", "unclosed-5MB"])
def test_deeply_nested_json_is_400(server, body):
    r = httpx.post(f"{server['base']}/v1/assign", content=body, headers=JSON, timeout=10)
    assert r.status_code == 400, r.text
    assert assert_error(r, 400, r.json()["error"]["code"])["code"] in {"too-deep", "invalid-json"}
    assert_alive(server)


# ------------------------------------------------------------- content types
@pytest.mark.parametrize("content_type", [
    None, "text/plain", "text/csv", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/xml", "text/json", "application/jsonx",
    "", "application/json-seq", "image/png",
])
def test_wrong_content_types_are_415(server, content_type):
    body = json.dumps(records(2)).encode()
    headers = {} if content_type is None else {"content-type": content_type}
    r = httpx.post(f"{server['base']}/v1/assign", content=body, headers=headers, timeout=5)
    assert_error(r, 415, "unsupported-media-type")


def test_json_content_type_with_a_body_that_is_not_json(server):
    r = httpx.post(f"{server['base']}/v1/assign", content=b"customer_id,CLV\nA,1\n",
                   headers=JSON, timeout=5)
    assert_error(r, 400, "invalid-json")


# -------------------------------------------------------- slow and idle clients
def _other_clients_are_served(server, n: int = 10) -> list[float]:
    """Times of ``n`` ordinary requests made while something else is going on."""
    times = []
    with httpx.Client(base_url=server["base"], timeout=5) as http:
        for i in range(n):
            t0 = time.monotonic()
            r = (http.get("/healthz") if i % 2 else
                 http.post("/v1/assign", json=records(3, seed=i)))
            assert r.status_code == 200, r.text
            times.append(time.monotonic() - t0)
    return times


def test_a_trickling_and_a_stalled_body_get_408_and_others_are_served(server):
    body = json.dumps(records(5)).encode()
    head = (b"POST /v1/assign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    stalled = socket.create_connection(("127.0.0.1", server["port"]), timeout=10)
    stalled.sendall(head + body[:10])  # then nothing
    trickler = socket.create_connection(("127.0.0.1", server["port"]), timeout=10)
    trickler.sendall(head)
    t0 = time.monotonic()
    try:
        sent = 0
        times = []
        while time.monotonic() - t0 < BODY_SECONDS + 0.5 and sent < len(body):
            try:
                trickler.sendall(body[sent:sent + 1])  # one byte every 50 ms
            except OSError:  # the server already cut it off
                break
            sent += 1
            if sent % 10 == 0:
                times += _other_clients_are_served(server, 2)
            time.sleep(0.05)
        assert sent < len(body)
        assert times and max(times) < 1.0  # others were served at once meanwhile
        for sock in (stalled, trickler):
            status, answer = parse(read_all(sock))
            assert status == 408 and answer["error"]["code"] == "timeout"
            assert answer["error"]["message"].startswith(
                f"the request body did not arrive within {BODY_SECONDS:g} seconds")
        assert time.monotonic() - t0 < BODY_SECONDS + 2
    finally:
        stalled.close()
        trickler.close()
    assert_alive(server)


def test_idle_and_trickled_header_connections_are_closed_so_slots_come_back(server):
    """More idle connections than LIMIT_CONCURRENCY: the server must recover by itself."""
    port = server["port"]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(api.LIMIT_CONCURRENCY + 8)]
    slowloris = socket.create_connection(("127.0.0.1", port), timeout=10)
    t0 = time.monotonic()
    try:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":  # never finished
            try:
                slowloris.sendall(bytes([byte]))
            except OSError:
                break
            if time.monotonic() - t0 > HEAD_SECONDS + 0.5:
                break
            time.sleep(0.05)
        # every one of them is closed by the server after the head deadline
        for sock in [*idle, slowloris]:
            assert read_all(sock) == b""
        assert time.monotonic() - t0 < HEAD_SECONDS + 3
        _other_clients_are_served(server, 4)
    finally:
        for sock in [*idle, slowloris]:
            sock.close()
    assert_alive(server)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_a_client_that_disconnects_mid_body_is_not_logged_as_a_crash(server):
    body = json.dumps(records(50)).encode()
    head = (b"POST /v1/assign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    seen = _Records()
    logger = logging.getLogger("uvicorn.error")  # where uvicorn logs an app's exceptions
    logger.addHandler(seen)
    try:
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", server["port"]), timeout=5) as sock:
                sock.sendall(head + body[: len(body) // 2])
                time.sleep(0.05)
        time.sleep(0.3)
    finally:
        logger.removeHandler(seen)
    errors = [r.getMessage() for r in seen.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert_alive(server)


# -------------------------------------------------------------------- load
def test_a_thousand_requests_from_twenty_threads(server):
    """1,000 requests (valid and invalid) over 20 threads: no 5xx, bounded memory."""
    base = server["base"]
    batches = [json.dumps(records(1 + i % 20, seed=i % 50)).encode() for i in range(50)]
    kinds = ["assign", "assign", "assign", "healthz", "segments", "bad-json", "wrong-type",
             "too-deep", "invalid-value", "not-found"]
    expected = {"assign": 200, "healthz": 200, "segments": 200, "bad-json": 400,
                "wrong-type": 415, "too-deep": 400, "invalid-value": 422, "not-found": 404}
    statuses: Counter = Counter()
    wrong: list = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            for i in range(offset, 1000, 20):
                kind = kinds[i % len(kinds)]
                if kind == "assign":
                    r = http.post("/v1/assign", content=batches[i % 50], headers=JSON)
                elif kind == "healthz":
                    r = http.get("/healthz")
                elif kind == "segments":
                    r = http.get("/v1/segments")
                elif kind == "bad-json":
                    r = http.post("/v1/assign", content=b'{"customers": [', headers=JSON)
                elif kind == "wrong-type":
                    r = http.post("/v1/assign", content=b"{}", headers={"content-type": "text/plain"})
                elif kind == "too-deep":
                    r = http.post("/v1/assign", content=b"[" * 10_000 + b"]" * 10_000, headers=JSON)
                elif kind == "invalid-value":
                    r = http.post("/v1/assign", json={"minutes_watched": 1, "CLV": "1,234.50",
                                                      "region": 1}, headers=JSON)
                else:
                    r = http.get(f"/v1/nothing/{i}")
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code != expected[kind]:
                        wrong.append((kind, r.status_code, r.text[:200]))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        for future in [pool.submit(worker, offset) for offset in range(20)]:
            future.result(timeout=60)
    elapsed = time.monotonic() - t0
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert sum(statuses.values()) == 1000
    assert not [s for s in statuses if s >= 500], statuses
    assert wrong == [], wrong[:5]
    assert growth_mb < 200, f"peak RSS grew by {growth_mb:.0f} MB"
    assert elapsed < 30
    assert_alive(server)
