"""A sticky reverse proxy for tests: one origin in front of several app servers, as nginx or
Caddy is in README's deployment recipe, so a browser keeps one set of cookies for all of them.

Each connection goes to the server its `ourpatch_server` cookie names (an index; else the
first), as Caddy's `lb_policy cookie` does with its own cookie; a test sets that cookie to say
which server a browser context is on, and changes it to move the browser to another server.
Websockets (Streamlit's /_stcore/stream) are piped whole to the server chosen at their upgrade;
plain requests are forwarded with `Connection: close`, so each one picks its server afresh.
X-Forwarded-For carries the browser's address, as `proxy_add_x_forwarded_for` does. Every
request is logged as (server index, method, path) so a test can check who served what."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

COOKIE = "ourpatch_server"
MAX_HEAD = 64 * 1024


def _choose(headers: list[tuple[str, str]], count: int) -> int:
    for name, value in headers:
        if name.lower() != "cookie":
            continue
        for part in value.split(";"):
            key, _, wanted = part.strip().partition("=")
            if key == COOKIE and wanted.isdigit() and int(wanted) < count:
                return int(wanted)
    return 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)
        await writer.drain()


class StickyProxy:
    """`with StickyProxy([port_a, port_b]) as proxy:` serves http://127.0.0.1:{proxy.port}/."""

    def __init__(self, upstream_ports: list[int]) -> None:
        self.upstream_ports = upstream_ports
        self.log: list[tuple[int, str, str]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sticky-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def served(self, since: int, path: str) -> set[int]:
        """The servers that answered requests for `path` among those logged after `since`."""
        return {index for index, _, p in self.log[since:] if p.split("?")[0] == path}

    def __enter__(self) -> StickyProxy:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop)
        self._server = started.result(timeout=30)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            if len(head) > MAX_HEAD:
                return
            request, *lines = head.decode("latin-1").split("\r\n")[:-2]
            headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
            index = _choose(headers, len(self.upstream_ports))
            websocket = any(n.lower() == "upgrade" and v.lower() == "websocket" for n, v in headers)
            if not websocket:  # one request per connection: the next one chooses again
                headers = [(n, v) for n, v in headers if n.lower() not in ("connection", "keep-alive")]
                headers.append(("Connection", "close"))
            peer = writer.get_extra_info("peername")
            headers = [(n, v) for n, v in headers if n.lower() != "x-forwarded-for"]
            headers.append(("X-Forwarded-For", str(peer[0]) if peer else "unknown"))
            method, path = [*request.split(" "), "", ""][:2]
            self.log.append((index, method, path))
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.upstream_ports[index])
            upstream.write((request + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n").encode("latin-1"))
            await upstream.drain()
            both = [asyncio.ensure_future(_pipe(reader, upstream)), asyncio.ensure_future(_pipe(up_reader, writer))]
            try:
                await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in both:
                    task.cancel()
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:  # the proxy is stopping: end quietly
            pass
        finally:
            for end in (upstream, writer):
                if end is not None:
                    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                        end.close()
