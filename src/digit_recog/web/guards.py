"""The app's guards: ASGI middlewares that refuse a request before it costs the server any work.

    Tarpit          an address refused over and over (400, 403, 408, 413) waits before each next request
    SameOrigin      a request from another site's page (Origin, Sec-Fetch-Site) -> 403
    SingleFraming   Content-Length and Transfer-Encoding together (a smuggling attempt) -> 400 and close
    Admission       no reading place left, or too many uploads at once from one address -> 503 Retry-After
    ReceiveTimeout  a body that stalls, or is not complete within its deadline -> 408 and close
    BodyLimit       a body over the upload limit -> 413

Each answers before the request's body is read. What only the connection can see (headers that never
end, idle sockets, connections per address) is in :mod:`digit_recog.web.server`.
"""

import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RETRY_AFTER_S = 1
# A body that sends nothing for this long is answered 408: fewer bytes than its Content-Length.
RECEIVE_TIMEOUT_S = 5.0
# A whole body must arrive within this many seconds of its headers (5 MB in 30 s is 170 KB/s): a body
# trickled a byte at a time would otherwise hold its place for as long as its sender likes.
BODY_DEADLINE_S = 30.0
# Uploads one client address may have arriving at once; more are answered 503. A page sends one drawing
# at a time, so this only stops one client from holding every place with bodies it never finishes.
UPLOADS_PER_CLIENT = 4
# Uploads that may be arriving at once from all clients (each holds at most the upload limit in memory).
MAX_UPLOADS = 32
# When no request is left in progress, the idle callback runs at most this often.
IDLE_INTERVAL_S = 1.0
# An address refused more than this many times within the window waits before each of its next requests.
TARPIT_REFUSALS = 20
TARPIT_WINDOW_S = 10.0
TARPIT_DELAY_S = 2.0
# Answers that say a request was malformed, from another site, too slow or too large: a page, the CLI or
# a script reading pictures earns them rarely; a flood earns them by the hundred a second.
REFUSALS = frozenset({400, 403, 408, 413, 431})
# Addresses remembered at once (the longest unrefused forgotten first): a bound on the memory they take.
TARPIT_ADDRESSES = 4096
SAFE_METHODS = ("GET", "HEAD")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON refusal. uvicorn discards the body it leaves unread and keeps the connection: closing it with
    the body still arriving would make the client's system reset it, and the client miss the answer."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _client_address(scope: Scope) -> str:
    """The client's address of a request, or "" when the server does not know it."""
    return (scope.get("client") or ("",))[0]


def _origin_key(scheme: str, netloc: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of an origin, the port filled in when the scheme's default is meant."""
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:  # not a number
        port = -1
    return scheme.lower(), (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme.lower())


def is_own_origin(origin: str, scope: Scope) -> bool:
    """Whether an ``Origin`` header names the origin the request came to: its scheme and Host header."""
    if "://" not in origin:  # "null" (sandboxed pages, file://) or garbage: never this server
        return False
    scheme, _, netloc = origin.partition("://")
    host = Headers(scope=scope).get("host", "")
    return bool(host) and _origin_key(scheme, netloc) == _origin_key(scope.get("scheme", "http"), host)


class Tarpit:
    """Hold each request from an address that keeps being refused ``delay_s`` before anything looks at it.

    Refusing is cheap, but not free: hundreds of refused requests a second from one client (another
    site's page in a loop, doubly framed requests, hostile pictures) take the event loop's time from
    everyone else. Once an address has been refused (any of :data:`REFUSALS`) more than ``refusals`` times
    within ``window_s``, its requests wait ``delay_s`` first, on a timer that costs nothing. A client that
    waits for its answers is slowed to one request per connection per ``delay_s``, and the connections
    of one address are capped (:mod:`digit_recog.web.server`). Other addresses are never delayed; an
    address that stops being refused is waved through again once its refusals leave the window.
    """

    def __init__(
        self,
        app: ASGIApp,
        refusals: int = TARPIT_REFUSALS,
        window_s: float = TARPIT_WINDOW_S,
        delay_s: float = TARPIT_DELAY_S,
        addresses: int = TARPIT_ADDRESSES,
    ) -> None:
        self.app = app
        self.refusals = refusals
        self.window_s = window_s
        self.delay_s = delay_s
        self.addresses = addresses
        # address -> times of its last refusals (at most ``refusals + 1``); only the event loop changes it
        self.refused: OrderedDict[str, deque[float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = _client_address(scope)
        if self.is_held(address):
            await anyio.sleep(self.delay_s)

        async def noting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in REFUSALS:
                self._note_refusal(address)
            await send(message)

        await self.app(scope, receive, noting_send)

    def is_held(self, address: str) -> bool:
        """Whether ``address`` was refused more than ``refusals`` times within the last ``window_s``."""
        times = self.refused.get(address)
        return (
            times is not None and len(times) > self.refusals and time.monotonic() - times[0] < self.window_s
        )

    def _note_refusal(self, address: str) -> None:
        times = self.refused.pop(address, None) or deque(maxlen=self.refusals + 1)
        times.append(time.monotonic())
        self.refused[address] = times  # now the most recently refused
        while len(self.refused) > self.addresses:
            self.refused.popitem(last=False)


class SameOrigin:
    """Answer 403 to requests another site's page makes: only the app's own page may call it.

    A browser names the page's origin in ``Origin`` on every cross-origin fetch and on any POST; when it is
    not this server's own (the scheme and Host the request came to), the request is refused. A
    ``Sec-Fetch-Site`` of ``cross-site`` or ``same-site`` is refused too, except for a plain navigation
    (following a link to the page). Requests without these headers (curl, the CLI, scripts) are answered.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self._problem(scope)
            if problem is not None:
                await _refuse(403, problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _problem(scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and not is_own_origin(origin, scope):
            return f"cross-origin request refused: Origin {origin} is not this server's"
        fetch_site = headers.get("sec-fetch-site", "").lower()
        navigating = scope["method"] in SAFE_METHODS and headers.get("sec-fetch-mode") == "navigate"
        if fetch_site in ("cross-site", "same-site") and not navigating:
            return f"cross-origin request refused: Sec-Fetch-Site is {fetch_site}"
        return None


class SingleFraming:
    """Answer 400 and close the connection when a request carries both Content-Length and
    Transfer-Encoding.

    RFC 9112 (section 6.1) says such a message may be an attempt at request smuggling and the connection
    must be closed after answering: a proxy in front could read the body's end where this server does not.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            names = {name.lower() for name, _ in scope["headers"]}
            if b"content-length" in names and b"transfer-encoding" in names:
                detail = "bad request: Content-Length and Transfer-Encoding together (send one of them)"
                await _refuse(400, detail, {"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass
class InFlight:
    """Requests to a path whose body has arrived and that are now waiting or being read, and how many may
    be."""

    limit: int
    active: int = 0


class Admission:
    """Answer requests to ``path`` 503 with Retry-After, before reading their bodies, while the reading
    queues' places are all taken, while ``max_uploads`` bodies are still arriving, or while the same
    client address already has ``per_client`` of them.

    Under a flood, parsing uploads that would only be refused afterwards would take the event loop's time
    from the requests being answered; this refuses them for the cost of their headers. A request takes a
    reading place only once its body has arrived, so bodies sent slowly never hold the places drawings
    need, and the count per address keeps one client from taking every upload.

    Args:
        app: the app behind.
        path: the path guarded.
        in_flight: the count of requests waiting or being read and its limit, shared with the app.
        per_client: uploads one address may have arriving at once.
        max_uploads: uploads that may be arriving at once, from all addresses.
        on_idle: called when the last request in progress ends (at most once per ``IDLE_INTERVAL_S``).
    """

    def __init__(
        self,
        app: ASGIApp,
        path: str,
        in_flight: InFlight,
        per_client: int = UPLOADS_PER_CLIENT,
        max_uploads: int = MAX_UPLOADS,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.path = path
        self.in_flight = in_flight
        self.per_client = per_client
        self.max_uploads = max_uploads
        self.on_idle = on_idle
        self.uploading = Counter()  # client address -> bodies still arriving; only the event loop changes it
        self.last_idle = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        address = _client_address(scope)
        problem = self._problem(address)
        if problem is not None:
            headers = {"Retry-After": str(RETRY_AFTER_S)}
            await _refuse(503, f"{problem}; retry in {RETRY_AFTER_S} s", headers)(scope, receive, send)
            return
        self.uploading[address] += 1
        arriving = True

        def arrived() -> None:
            nonlocal arriving
            arriving = False
            self.uploading[address] -= 1
            if not self.uploading[address]:
                del self.uploading[address]

        async def counting_receive() -> Message:
            message = await receive()
            if arriving and (message["type"] != "http.request" or not message.get("more_body", False)):
                arrived()
                self.in_flight.active += 1  # a reading place, until the answer
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            if arriving:
                arrived()
            else:
                self.in_flight.active -= 1
            idle = not self.in_flight.active and not self.uploading
            if idle and time.monotonic() - self.last_idle > IDLE_INTERVAL_S:
                self.last_idle = time.monotonic()
                if self.on_idle is not None:
                    self.on_idle()

    def _problem(self, address: str) -> str | None:
        if self.in_flight.active >= self.in_flight.limit:
            return f"server busy: {self.in_flight.active} images are being read or waiting"
        if self.uploading[address] >= self.per_client:
            return f"too many uploads at once: {self.uploading[address]} from your address still arriving"
        if self.uploading.total() >= self.max_uploads:
            return f"server busy: {self.uploading.total()} uploads are arriving"
        return None


class ReceiveTimeout:
    """Answer 408 and close the connection when a request body sends nothing for ``seconds``, or is not
    complete ``deadline_s`` after the request reached the app.

    Only reads of the body are timed: once it is complete, waiting for a disconnect is not.
    """

    def __init__(self, app: ASGIApp, seconds: float, deadline_s: float = BODY_DEADLINE_S) -> None:
        self.app = app
        self.seconds = seconds
        self.deadline_s = deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_complete = False
        deadline = time.monotonic() + self.deadline_s

        async def timed_receive() -> Message:
            nonlocal body_complete
            if body_complete:
                return await receive()
            left_s = deadline - time.monotonic()
            try:
                with anyio.fail_after(max(0.0, min(self.seconds, left_s))):
                    message = await receive()
            except TimeoutError:
                if left_s <= self.seconds:
                    problem = f"request body too slow: not complete within {self.deadline_s:g} s"
                else:
                    problem = (
                        f"request body stalled: nothing arrived for {self.seconds:g} s "
                        "(fewer bytes sent than Content-Length?)"
                    )
                # FastAPI answers it as JSON
                raise HTTPException(408, problem, headers={"Connection": "close"}) from None
            body_complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and a JSON message, before reading them whole.

    A declared Content-Length over the limit is refused at once; a body sent without one is counted as
    it arrives, and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(413, self._message())(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self._message())  # FastAPI answers it as JSON
            return message

        await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"request too large: uploads are limited to about {self.max_bytes:,} bytes"
