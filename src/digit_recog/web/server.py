"""How ``digit-recog serve`` runs the app under uvicorn: connection deadlines and caps, and its settings.

uvicorn closes a kept-alive connection that goes quiet, but it never closes one that has not finished its
request headers, or one whose body trickles in after the response; and its ``limit_concurrency`` is one
count for all clients. :class:`GuardedH11Protocol`, uvicorn's own h11 protocol with timers added, closes
them:

    headers      a request's line and headers must be complete within ``headers_s`` of the connection
                 opening (or of the request's first byte on a kept-alive one): 408 when part came, else closed
    body         a body still arriving ``body_s`` after its headers is cut off (the app answers 408 first)
    per client   at most ``connections_per_client`` connections from one address; more are answered 503
                 and closed at once, so one client cannot take the ``limit_concurrency`` places

uvicorn parses the requests (h11) as ever. Imports no model code: with ``--workers N`` the supervising
process loads only this.
"""

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

from digit_recog.web.guards import BODY_DEADLINE_S, RETRY_AFTER_S

# Host names the server answers to when bound to this machine only; other Host headers (DNS rebinding)
# get 400.
LOCAL_HOSTS = ["localhost", "127.0.0.1"]
logger = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class ServerLimits:
    """Deadlines and caps for each connection, and uvicorn's own limits.

    Attributes:
        headers_s: seconds a request's line and headers may take.
        body_s: seconds a body may still be arriving after its headers before the connection is cut
            (a second past the app's own deadline, which answers 408 first).
        connections_per_client: open connections one client address may have (per worker process).
        limit_concurrency: connections and tasks in all (uvicorn answers more 503).
        keep_alive_s: an idle kept-alive connection is closed after this.
        graceful_shutdown_s: shutdown waits this long for requests in progress.
        max_header_bytes: a request line and headers larger than this are answered 400 (h11's limit).
    """

    headers_s: float = 5.0
    body_s: float = BODY_DEADLINE_S + 1.0
    connections_per_client: int = 64
    limit_concurrency: int = 1024
    keep_alive_s: float = 5.0
    graceful_shutdown_s: float = 5.0
    max_header_bytes: int = 16 * 1024


def server_settings(limits: ServerLimits = ServerLimits()) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config`` that apply ``limits``.

    The protocol goes as a picklable partial, so ``--workers N`` hands it, limits included, to each
    worker process (uvicorn pickles its settings into the processes it spawns).
    """
    return {
        "http": functools.partial(GuardedH11Protocol, limits=limits),
        "limit_concurrency": limits.limit_concurrency,
        "timeout_keep_alive": limits.keep_alive_s,
        "timeout_graceful_shutdown": limits.graceful_shutdown_s,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers and body, and a cap on the
    connections of each client address (see the module's docstring)."""

    def __init__(self, *args: Any, limits: ServerLimits = ServerLimits(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.deadline: asyncio.TimerHandle | None = None
        self.awaiting: str | None = None  # "headers" or "body" while its deadline runs

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Take the connection, unless its address has too many already: then 503 and close."""
        super().connection_made(transport)
        cap = self.limits.connections_per_client
        if self.client is not None and self._connections_from(self.client[0]) > cap:
            self._answer_and_close(
                503,
                f"too many connections from your address (at most {cap})",
                {"retry-after": str(RETRY_AFTER_S)},
            )
            return
        self._arm("headers")

    def data_received(self, data: bytes) -> None:
        """Feed uvicorn's parser, then start or stop the deadline the request's state calls for."""
        if self.awaiting is None and self.conn.their_state is h11.IDLE:
            self._arm("headers")  # a next request on a kept-alive connection begins
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        """After a response, time a pipelined request that has begun to arrive."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._follow_request()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _connections_from(self, address: str) -> int:
        clients = (getattr(connection, "client", None) or ("",) for connection in self.connections)
        return sum(1 for client in clients if client[0] == address)

    def _follow_request(self) -> None:
        state = self.conn.their_state
        if state is h11.IDLE:  # between requests, or a request's headers arriving
            if self.awaiting == "body":  # the last body ended (read, or discarded after its answer)
                self._disarm()
            if self.awaiting is None and self.conn.trailing_data[0]:
                self._arm("headers")
        elif state is h11.SEND_BODY:
            if self.awaiting != "body":
                self._arm("body")
        else:
            self._disarm()

    def _arm(self, awaiting: str) -> None:
        self._disarm()
        seconds, overdue = {
            "headers": (self.limits.headers_s, self._headers_overdue),
            "body": (self.limits.body_s, self._body_overdue),
        }[awaiting]
        self.awaiting = awaiting
        self.deadline = self.loop.call_later(seconds, overdue)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        self.deadline, self.awaiting = None, None

    def _headers_overdue(self) -> None:
        self.deadline, self.awaiting = None, None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request came: say why it is closed
            self._answer_and_close(408, f"request headers not complete within {self.limits.headers_s:g} s")
        else:  # an idle connection: nothing to answer
            self.transport.close()

    def _body_overdue(self) -> None:
        self.deadline, self.awaiting = None, None
        if not self.transport.is_closing() and self.conn.their_state is h11.SEND_BODY:
            logger.info("closed a connection whose request body took over %g s", self.limits.body_s)
            self.transport.close()

    def _answer_and_close(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` with a one-line text ``message`` (h11 writes it) and close the connection."""
        body = (message + "\n").encode()
        fields = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *[(name.encode(), value.encode()) for name, value in (headers or {}).items()],
        ]
        try:
            for event in (
                h11.Response(status_code=status, headers=fields, reason=STATUS_PHRASES[status]),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
        except h11.LocalProtocolError:  # a response already begun: closing is all that is left
            pass
        self.transport.close()
