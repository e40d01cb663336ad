"""Sends the livechat operations to a real Rocket.Chat, safely.

Transport errors never leave `upstream/`: `transport.py` maps each to a domain failure
(`UpstreamUnavailable`, `UpstreamTimeout`, `UpstreamError`), `retry.py` decides what is tried
again, and `mapping.py` turns Rocket.Chat's answers (and its refusals) into the domain.

Only what is safe is retried, with capped exponential backoff and full jitter. A send always
carries an `_id` (made before the first attempt if the client gave none), so a retry can never
store a message twice: if the server already has it, the retry answers it. An edit sets the
text to a given value, so repeating it changes nothing: it is retried like a read. A delete
that may have reached the server is retried too, and an `invalid-message` on a retry means an
earlier attempt deleted it: that counts as done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import httpx
import orjson
from cachetools import LRUCache

from app import request_scope
from app.backends.base import (
    Agent,
    DeletedMessage,
    InvalidMessage,
    InvalidParams,
    JsonObject,
    LivechatFailure,
    Message,
    OutgoingMessage,
    RemoteFile,
    Room,
    RoomEvents,
    Unauthorized,
    UploadRequest,
    UpstreamError,
    Visitor,
    VisitorRegistration,
)
from app.backends.ids import PATH_ID, IdGenerator, random_id, utc_now
from app.backends.rocketchat_json import format_datetime, parse_datetime
from app.backends.upstream import files, mapping
from app.backends.upstream.ddp import DdpTiming, raise_if_rate_limited
from app.backends.upstream.realtime import SharedRooms, UpstreamRoomEvents
from app.backends.upstream.retry import (
    CONNECT_ONLY,
    IDEMPOTENT,
    RetryBudget,
    Retrying,
    RetryPolicy,
    Sleep,
)
from app.backends.upstream.transport import TRANSPORT_ERRORS, UpstreamClient, transport_fault
from app.backends.upstream.typing_sockets import TypingSockets
from app.backends.upstream.widget import WidgetCalls, shared_configs
from app.markdown import MarkdownSyntaxError, parse

log = logging.getLogger("app.upstream")

READINESS_TIMEOUT = 2.0  # seconds a readiness probe waits for the upstream


def realtime_url_for(base_url: str) -> str:
    """Rocket.Chat's DDP endpoint beside its REST API: ws(s)://host/websocket."""
    return base_url.replace("http", "ws", 1).rstrip("/") + "/websocket"


class UpstreamBackend(WidgetCalls):
    """LivechatBackend over Rocket.Chat's REST API (the widget's calls around a chat: see
    WidgetCalls)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        budget: RetryBudget | None = None,
        forward_headers: tuple[str, ...] = (),
        markdown_options: Mapping[str, Any] | None = None,
        new_id: IdGenerator = random_id,
        sleep: Sleep = asyncio.sleep,
        realtime_url: str | None = None,
        ddp_timing: DdpTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._retrying = Retrying(budget or RetryBudget(), sleep)
        self._realtime_url = realtime_url or realtime_url_for(str(client.base_url))
        self._ddp_timing = ddp_timing or DdpTiming()
        self.live_subscriptions: set[UpstreamRoomEvents] = set()
        self._shared_rooms = SharedRooms(self._room_events)
        self._typing_sockets = TypingSockets(self._realtime_url, self._ddp_timing)
        self._forward_headers = forward_headers
        self._markdown_options = dict(markdown_options or {})
        self._new_id = new_id
        self._urls: LRUCache[str, httpx.URL] = LRUCache(256)
        # The visitor's username per (token, room), for typing: read once, not per keystroke.
        self._usernames: LRUCache[tuple[str, str], str] = LRUCache(4096)
        self._shared_configs = shared_configs(clock)
        # What httpx's `build_request` merges into every request from the client, merged
        # here once: its default headers (lower-case names, as httpx and aiohttp send them)
        # and its timeouts.
        self._client_headers = dict(client.headers.items())
        self._timeout = client.timeout.as_dict()
        # aiohttp's pool without httpx's client around it, for the calls answered whole,
        # when the client is the one `make_client` made with nothing that needs httpx's
        # request in between (spans); any other client is only called through httpx.
        self._direct = client.direct if isinstance(client, UpstreamClient) else None

    async def readiness(self) -> str | None:
        """Ready when Rocket.Chat answers its public `GET /api/info` (any answer below 500)."""
        try:
            response = await self._client.get("/api/info", timeout=READINESS_TIMEOUT)
        except TRANSPORT_ERRORS as error:
            return f"the upstream does not answer: {transport_fault(error).failure}"
        if response.status_code >= 500:
            return f"the upstream answers {response.status_code}"
        return None

    async def aclose(self) -> None:
        self._shared_configs.cancel()
        for events in list(self.live_subscriptions):
            await events.aclose()
        await self._typing_sockets.aclose()
        await self._client.aclose()

    # ---- transport ----

    def _headers(self) -> dict[str, str]:
        """The client's headers, then the forwarded ones, the visitor's address and agent
        (Rocket.Chat limits calls per address: see `IncomingRequest.visitor_headers`) and the
        request id over them."""
        incoming = request_scope.current()
        headers = self._client_headers.copy()
        for name, value in incoming.forwarded_headers.items():
            headers[name.lower()] = value
        # Never a client's own X-Forwarded-For (a visitor could pick whose limit to spend).
        headers.pop("x-forwarded-for", None)
        headers.pop("x-real-ip", None)
        headers.update(incoming.visitor_headers())
        headers["x-request-id"] = incoming.request_id
        return headers

    @property
    def retries(self) -> int:
        """Retries made so far, by every operation."""
        return self._retrying.retries

    async def _call(
        self,
        method: str,
        path: str,
        policy: RetryPolicy,
        *,
        json: JsonObject | None = None,
        params: Mapping[str, str] | None = None,
        retried: list[int] | None = None,
    ) -> httpx.Response:
        """One operation: attempts within the total deadline; the last answer or failure."""
        headers = self._headers()
        # The body encoded once (orjson, not httpx's stdlib json), the URL made absolute once
        # per path and the headers merged above: each attempt is the request `build_request`
        # would make, without its merging, sent by the client's `send`, or the same sent on
        # the client's direct path.
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers["content-type"] = "application/json"
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self._client.base_url.join(path.lstrip("/"))

        direct = self._direct
        if direct is not None:
            target = url if params is None else url.copy_merge_params(params)
            timeout = self._timeout

            def attempt() -> Awaitable[httpx.Response]:
                return direct(method, target, headers, content, timeout)

        else:

            def attempt() -> Awaitable[httpx.Response]:
                request = httpx.Request(
                    method,
                    url,
                    content=content,
                    params=params,
                    headers=headers,
                    extensions={"timeout": self._timeout},
                )
                return self._client.send(request)

        return await self._retrying.run(
            attempt,
            policy,
            method=method,
            path=path,
            retried=retried,
        )

    def _body(self, response: httpx.Response) -> JsonObject:
        return mapping.answer(response)

    def _markdown_for(self, document: JsonObject) -> list[JsonObject]:
        """`md` for a message the server sent without one (older servers, markdown off)."""
        try:
            now = parse_datetime(document.get("ts"))
        except ValueError:
            now = None
        try:
            return parse(str(document.get("msg", "")), self._markdown_options, now=now)
        except MarkdownSyntaxError:
            return []

    # ---- the operations ----

    async def register_visitor(self, registration: VisitorRegistration) -> Visitor:
        fields = {key: value for key, value in asdict(registration).items() if value is not None}
        response = await self._call(
            "POST", "/api/v1/livechat/visitor", IDEMPOTENT, json={"visitor": fields}
        )
        return mapping.visitor(self._body(response))

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> tuple[Room, bool]:
        params = {"token": token}
        if rid is not None:
            params["rid"] = rid
        if agent_id is not None:
            params["agentId"] = agent_id
        response = await self._call("GET", "/api/v1/livechat/room", CONNECT_ONLY, params=params)
        room, created = mapping.room(self._body(response))
        if room.visitor_username:
            # What typing in it needs: a visitor who opened their room here types at no lookup.
            self._usernames[(token, room.id)] = room.visitor_username
        return room, created

    async def send_message(self, outgoing: OutgoingMessage) -> Message:
        message_id = outgoing.id or self._new_id()
        body: JsonObject = {
            "token": outgoing.token,
            "rid": outgoing.rid,
            "msg": outgoing.msg,
            "_id": message_id,
        }
        if outgoing.agent is not None:
            body["agent"] = {
                "agentId": outgoing.agent.agent_id,
                "username": outgoing.agent.username,
            }
        retried: list[int] = []
        response = await self._call(
            "POST", "/api/v1/livechat/message", IDEMPOTENT, json=body, retried=retried
        )
        try:
            answer = self._body(response)
        except LivechatFailure:
            if not retried:
                raise
            # Rocket.Chat refuses a duplicate _id: the attempt that failed on our side stored it.
            return await self.message(outgoing.token, outgoing.rid, message_id)
        return mapping.message(answer.get("message"), self._markdown_for)

    async def message(self, token: str, rid: str, message_id: str) -> Message:
        response = await self._call(
            "GET",
            _message_path(message_id),
            IDEMPOTENT,
            params={"token": token, "rid": rid},
        )
        body = self._body(response)
        return mapping.message(body.get("message"), self._markdown_for)

    async def close_room(self, token: str, rid: str) -> str:
        response = await self._call(
            "POST", "/api/v1/livechat/room.close", CONNECT_ONLY, json={"token": token, "rid": rid}
        )
        body = self._body(response)
        return str(body.get("rid", rid))

    async def update_message(self, token: str, rid: str, message_id: str, msg: str) -> Message:
        response = await self._call(
            "PUT",
            _message_path(message_id),
            IDEMPOTENT,
            json={"token": token, "rid": rid, "msg": msg},
        )
        body = self._body(response)
        return mapping.message(body.get("message"), self._markdown_for)

    async def delete_message(self, token: str, rid: str, message_id: str) -> DeletedMessage:
        retried: list[int] = []
        response = await self._call(
            "DELETE",
            _message_path(message_id),
            IDEMPOTENT,
            json={"token": token, "rid": rid},
            retried=retried,
        )
        try:
            body = self._body(response)
        except InvalidMessage:
            if not retried:
                raise
            # An earlier attempt reached the server and deleted it; when is not known.
            log.info("delete retried into invalid-message: done before")
            return DeletedMessage(id=message_id, ts=utc_now())
        document = body.get("message")
        try:
            return DeletedMessage(id=str(document["_id"]), ts=parse_datetime(document["ts"]))  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            log.warning("upstream delete answer is unreadable: %r", body)
            raise UpstreamError("the upstream answer is not in Rocket.Chat's shape") from None

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]:
        params = {"token": token, "limit": str(limit)}
        if before is not None:
            params["end"] = format_datetime(before)
        response = await self._call(
            "GET",
            f"/api/v1/livechat/messages.history/{_path_segment('rid', rid)}",
            IDEMPOTENT,
            params=params,
        )
        body = self._body(response)
        documents = body.get("messages")
        if not isinstance(documents, list):
            raise UpstreamError("the upstream answer lacks 'messages'")
        return [mapping.message(document, self._markdown_for) for document in documents]

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]:
        response = await self._call(
            "GET",
            f"/api/v1/livechat/agent.info/{_path_segment('rid', rid)}/"
            f"{_path_segment('token', token)}",
            IDEMPOTENT,
        )
        return mapping.agent(self._body(response))

    async def set_typing(self, token: str, rid: str, typing: bool) -> None:
        """The DDP method on the room's own socket while the visitor is subscribed, else on
        the visitor's socket for typing (`TypingSockets`: kept for the rest of a burst). The
        visitor's username, which Rocket.Chat wants in the call, is kept from the room's
        opening here, else read once per room (GET livechat/room, which also refuses a bad
        token, another's room or a closed one) and remembered: no REST call per keystroke."""
        username = self._usernames.get((token, rid))
        if username is None:
            room, _ = await self.open_room(token, rid)
            username = self._usernames[(token, rid)] = room.visitor_username
        params = [
            f"{rid}/user-activity",
            username,
            ["user-typing"] if typing else [],
            {"token": token},
        ]
        live = self._shared_rooms.live(token, rid)
        answered = await live.call("stream-notify-room", params) if live is not None else None
        if answered is None:
            headers = request_scope.current().visitor_headers()
            answered = await self._typing_sockets.call(token, headers, "stream-notify-room", params)
        raise_if_rate_limited(answered)

    async def upload_file(self, upload: UploadRequest) -> Message:
        """Streamed to Rocket.Chat's upload route, once (the body cannot be replayed)."""
        fields = {
            name: value
            for name, value in (("description", upload.description), ("msg", upload.msg))
            if value is not None
        }
        path = f"/api/v1/livechat/upload/{_path_segment('rid', upload.rid)}"
        failed: list[BaseException] = []
        request = files.upload_request(
            self._client.base_url.join(path.lstrip("/")),
            self._headers(),
            upload.token,
            upload.file,
            fields,
            self._timeout,
            failed,
        )
        try:
            response = await self._client.send(request)
        except BaseException as error:
            if failed:  # the file broke off on our side: that is the answer
                raise failed[0] from None
            if isinstance(error, TRANSPORT_ERRORS):
                raise transport_fault(error).failure from error
            raise
        body = self._body(response)
        return mapping.message(files.uploaded_message(body), self._markdown_for)

    async def open_file(
        self, token: str, rid: str, file_id: str, name: str, byte_range: str | None = None
    ) -> RemoteFile:
        """The file, if one of the room's messages carries it, streamed from Rocket.Chat with
        the visitor's cookies."""

        async def history(limit: int, last: Message | None) -> list[Message]:
            return await self.message_history(token, rid, limit, last.ts if last else None)

        message = await files.find_file(history, file_id)
        if message is None:
            raise Unauthorized
        entry = next(
            entry
            for entry in [*message.files, *([message.file] if message.file else [])]
            if entry.get("_id") == file_id
        )
        request = files.download_request(
            self._client.base_url,
            self._headers(),
            token,
            rid,
            file_id,
            str(entry.get("name") or name),
            byte_range,
            self._timeout,
        )
        try:
            response = await self._client.send(request, stream=True)
        except TRANSPORT_ERRORS as error:
            raise transport_fault(error).failure from error
        try:
            return files.remote_file(
                response, str(entry.get("name") or name), str(entry.get("type") or "")
            )
        except BaseException:
            await response.aclose()
            raise

    async def subscribe_room(self, token: str, rid: str) -> RoomEvents:
        """The visitor's room over DDP, one upstream socket per visitor and room in this
        process whatever the number of its subscribers (see realtime.py)."""
        return await self._shared_rooms.subscribe(token, rid)

    def _room_events(self, token: str, rid: str) -> UpstreamRoomEvents:
        events = UpstreamRoomEvents(
            self._realtime_url,
            token,
            rid,
            request_scope.current().visitor_headers(),
            self,
            lambda document: mapping.message(document, self._markdown_for),
            self._ddp_timing,
            on_close=self.live_subscriptions.discard,
        )
        self.live_subscriptions.add(events)
        return events


def _message_path(message_id: str) -> str:
    return f"/api/v1/livechat/message/{_path_segment('_id', message_id)}"


def _path_segment(name: str, value: str) -> str:
    """An id as one segment of an upstream path. Quoting alone would let `..` through (the
    URL is normalised: `messages.history/..` is `/api/v1/livechat/`), so an id that is not
    shaped as Rocket.Chat's ids are is refused before any call, as the guard in front of
    every backend refuses it."""
    if not PATH_ID.fullmatch(value):
        raise InvalidParams(f"'{name}' must be letters, digits, '-' or '_'")
    return value
