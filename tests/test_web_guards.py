"""The app's guards on their own, as ASGI middlewares: how Admission counts uploads and reading places,
which Origin headers name the server's own origin, and whom the Tarpit holds (through a server:
tests/test_web_server.py)."""

import anyio
import pytest

from digit_recog.web.guards import Admission, InFlight, Tarpit, is_own_origin


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


def answering_app(status: int):
    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def timed_call(guard: Tarpit, address: str) -> float:
    started = anyio.current_time()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message) -> None:
        pass

    await guard(scope(address), receive, send)
    return anyio.current_time() - started


@pytest.mark.anyio
async def test_an_address_refused_over_and_over_waits_and_no_other_does():
    guard = Tarpit(answering_app(403), refusals=3, window_s=60, delay_s=0.3)
    first = [await timed_call(guard, "10.0.0.1") for _ in range(4)]
    assert max(first) < 0.1 and guard.is_held("10.0.0.1")  # its 4th refusal passes the 3 allowed
    assert await timed_call(guard, "10.0.0.1") >= 0.3
    assert await timed_call(guard, "10.0.0.2") < 0.1 and not guard.is_held("10.0.0.2")


@pytest.mark.anyio
@pytest.mark.parametrize("status", [200, 404, 422, 503])
async def test_answers_that_are_not_refusals_never_hold_an_address(status):
    guard = Tarpit(answering_app(status), refusals=2, window_s=60, delay_s=0.3)
    for _ in range(5):
        await timed_call(guard, "10.0.0.1")
    assert not guard.is_held("10.0.0.1")


@pytest.mark.anyio
async def test_an_address_is_let_go_once_its_refusals_leave_the_window():
    guard = Tarpit(answering_app(400), refusals=2, window_s=0.2, delay_s=0.05)
    for _ in range(3):
        await timed_call(guard, "10.0.0.1")
    assert guard.is_held("10.0.0.1")
    await anyio.sleep(0.25)
    assert not guard.is_held("10.0.0.1")


@pytest.mark.anyio
async def test_the_addresses_remembered_are_bounded():
    guard = Tarpit(answering_app(403), refusals=1, window_s=60, delay_s=0.0, addresses=3)
    for index in range(10):
        await timed_call(guard, f"10.0.0.{index}")
    assert list(guard.refused) == ["10.0.0.7", "10.0.0.8", "10.0.0.9"]
