"""The app's guards on their own, as ASGI middlewares: how Admission counts uploads and reading places,
and which Origin headers name the server's own origin (through a server: tests/test_web_server.py)."""

import anyio
import pytest

from digit_recog.web.guards import Admission, InFlight, is_own_origin


def scope(address: str, host: str = "127.0.0.1:8000", scheme: str = "http") -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/predict",
        "scheme": scheme,
        "client": (address, 50000),
        "headers": [(b"host", host.encode())],
    }


async def reading_app(scope, receive, send) -> None:
    """Reads the whole body, then answers 200."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def statuses_while_uploads_hang(guard: Admission, addresses: list[str], then: str) -> tuple[list, int]:
    """Start an upload whose body never ends from each of ``addresses``, then one complete upload from
    ``then``; the statuses answered, and the reading places taken, while the others still hang."""
    answered = []

    async def send(message) -> None:
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    async def hanging_receive():
        await anyio.sleep_forever()

    async def complete_receive():
        return {"type": "http.request", "body": b"drawing", "more_body": False}

    async with anyio.create_task_group() as tasks:
        for address in addresses:
            tasks.start_soon(guard, scope(address), hanging_receive, send)
        await anyio.sleep(0.01)
        refused_at_once = list(answered)
        answered.clear()
        await guard(scope(then), complete_receive, send)
        places = guard.in_flight.active
        tasks.cancel_scope.cancel()
    return refused_at_once + answered, places


@pytest.mark.anyio
async def test_uploads_still_arriving_take_no_reading_place():
    guard = Admission(reading_app, "/api/predict", InFlight(limit=1), per_client=4, max_uploads=10)
    statuses, places = await statuses_while_uploads_hang(guard, ["10.0.0.1"] * 3, then="10.0.0.2")
    assert statuses == [200] and places == 0  # the one reading place was free for the complete upload


@pytest.mark.anyio
async def test_one_address_may_have_only_so_many_uploads_arriving():
    guard = Admission(reading_app, "/api/predict", InFlight(limit=15), per_client=2, max_uploads=10)
    statuses, _ = await statuses_while_uploads_hang(guard, ["10.0.0.1"] * 3, then="10.0.0.1")
    assert statuses == [503, 503]  # its third hanging upload, then its complete one
    statuses, _ = await statuses_while_uploads_hang(guard, ["10.0.0.1"] * 2, then="10.0.0.2")
    assert statuses == [200]  # another address is answered


@pytest.mark.anyio
async def test_uploads_arriving_from_all_addresses_are_capped():
    guard = Admission(reading_app, "/api/predict", InFlight(limit=15), per_client=2, max_uploads=3)
    addresses = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    statuses, _ = await statuses_while_uploads_hang(guard, addresses, then="10.0.0.4")
    assert statuses == [503]
    assert not guard.uploading and guard.in_flight.active == 0  # all given back once they ended


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "own"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "http", True),
        ("HTTP://LocalHost:8000", "localhost:8000", "http", True),
        ("http://example.org", "example.org:80", "http", True),  # the default port, said or not
        ("https://example.org:443", "example.org", "https", True),
        ("http://localhost:8000", "127.0.0.1:8000", "http", False),  # another name is another origin
        ("http://127.0.0.1:3000", "127.0.0.1:8000", "http", False),  # another port
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "http", False),  # another scheme
        ("null", "127.0.0.1:8000", "http", False),
        ("http://127.0.0.1:port", "127.0.0.1:8000", "http", False),
    ],
)
def test_own_origin_is_scheme_host_and_port(origin, host, scheme, own):
    assert is_own_origin(origin, scope("127.0.0.1", host, scheme)) is own
