"""A transport that misbehaves on purpose, in front of a real server, for faults that a real
network cannot be made to produce on demand (a reset after the server acted, a 503, a 429)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
from httpx_aiohttp import AiohttpTransport

Fault = str
# "refuse":   the connection fails before anything is sent
# "reset":    the request reaches the server, which acts on it; the answer is lost mid-body
# "slow":     the request reaches the server; the answer does not come before the read timeout
# "503":      a proxy answers 503 Service Unavailable without forwarding
# "429":      the server answers Too Many Requests, Retry-After 0.01 s
# "garbage":  a proxy answers 200 with an HTML page


class FaultyTransport(httpx.AsyncBaseTransport):
    """Forwards to a real transport, injecting the fault `plan(request)` names, if any."""

    def __init__(self, plan: Callable[[httpx.Request], Fault | None]) -> None:
        # The transport the app uses, so the faults pass through its pool and error mapping.
        self._real = AiohttpTransport()
        self._plan = plan
        self.injected: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._plan(request)
        if fault is None:
            return await self._real.handle_async_request(request)
        self.injected[fault] += 1
        if fault == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "503":
            return httpx.Response(503, text="Service Unavailable", request=request)
        if fault == "429":
            return httpx.Response(
                429,
                json={"success": False, "error": "too many requests"},
                headers={"Retry-After": "0.01"},
                request=request,
            )
        if fault == "garbage":
            return httpx.Response(200, text="<html>maintenance</html>", request=request)
        response = await self._real.handle_async_request(request)
        await response.aread()
        await response.aclose()
        if fault == "slow":
            await asyncio.sleep(0)
            raise httpx.ReadTimeout("the answer did not come in time", request=request)
        raise httpx.RemoteProtocolError("peer closed connection mid-body", request=request)

    async def aclose(self) -> None:
        await self._real.aclose()
