"""SIGTERM under load. To one of two replicas behind a load balancer: it drains (health 503,
connections closed after each answer), finishes what it had begun, closes WebSockets with 1012
(service restart) and exits 0; no acknowledged send is lost and no request sees its connection
reset or refused. To a lone facade, one worker or two, with keep-alive clients sending straight
to it: no connection it accepted is reset."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from tests.cluster import LoadBalancer, balancing, cluster
from tests.helpers import GraphQL, RocketChatServer, operation
from tests.running import ServerProcess

CLIENTS = 16
DRAIN = 1.0
SEND = operation("sendLivechatMessage")


async def open_rooms(balancer: LoadBalancer) -> list[tuple[str, str]]:
    rooms = []
    for index in range(CLIENTS):
        token = f"shutdown-{index}"
        register = {"input": {"token": token}}
        await balancer.pick().post(
            "/graphql", json={"query": operation("registerLivechatVisitor"), "variables": register}
        )
        room = await balancer.pick().post(
            "/graphql", json={"query": operation("openLivechatRoom"), "variables": register}
        )
        rooms.append((token, room.json()["data"]["openLivechatRoom"]["room"]["id"]))
    return rooms


async def load(
    balancer: LoadBalancer,
    rooms: list[tuple[str, str]],
    stop: asyncio.Event,
    acked: set[str],
    endings: Counter[str],
) -> None:
    """Clients send through the balancer until told to stop; every ending is counted."""

    async def client(index: int) -> None:
        token, rid = rooms[index]
        for n in range(100_000):
            if stop.is_set():
                return
            message_id = f"sd-c{index}-n{n}"
            variables = {"input": {"token": token, "rid": rid, "msg": f"{n}", "id": message_id}}
            try:
                answer = await balancer.pick().post(
                    "/graphql", json={"query": SEND, "variables": variables}
                )
            except httpx.TransportError as error:
                endings[f"transport error: {type(error).__name__}"] += 1
                continue
            endings[str(answer.status_code)] += 1
            sent = answer.json()["data"]["sendLivechatMessage"]
            if sent["__typename"] == "SendLivechatMessageSuccess":
                assert sent["message"]["id"] == message_id
                acked.add(message_id)

    await asyncio.gather(*(client(index) for index in range(CLIENTS)))


async def open_socket(url: str) -> websockets.ClientConnection:
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    )
    await socket.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    return socket


async def test_sigterm_under_load_drains_finishes_and_exits_0(tmp_path: Path) -> None:
    with cluster(tmp_path, replicas=2, drain=DRAIN) as replicas:
        leaving, staying = replicas.replicas
        async with balancing([leaving.url, staying.url]) as balancer:
            rooms = await open_rooms(balancer)
            socket = await open_socket(leaving.url)
            acked: set[str] = set()
            endings: Counter[str] = Counter()
            stop = asyncio.Event()
            running = asyncio.create_task(load(balancer, rooms, stop, acked, endings))
            await asyncio.sleep(1.0)
            before = dict(balancer.served)
            status = await asyncio.to_thread(leaving.terminate)
            await asyncio.sleep(0.5)
            stop.set()
            await running
            await socket.wait_closed()
        stored = replicas.stored_ids()

    after = {url: balancer.served[url] - before[url] for url in balancer.served}
    print(
        f"\nSIGTERM to one of 2 replicas under {CLIENTS} clients: exit {status};"
        f" endings {dict(endings)}; {len(acked)} acked, {len(stored)} stored;"
        f" requests before SIGTERM {before}, from SIGTERM on {after}"
    )
    assert status == 0
    assert socket.close_code == 1012
    assert set(endings) == {"200"}, endings
    assert after[staying.url] > 0 and before[leaving.url] > 0
    assert len(stored) == len(set(stored)), "a message is stored twice"
    assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged sends were lost"


# SIGTERM to a lone facade under keep-alive load, with the default settings -------------------

RUNS = (1, 2) * 5  # --workers for each run: one, and several
KEEP_ALIVE_CLIENTS = 8
ACCEPTED = re.compile(rb":(\d+) - HTTP connection made")


@dataclass
class Tally:
    """How each request of a run ended, as its client saw it."""

    answered: int = 0
    refused: int = 0  # the connection was refused: nothing was sent
    cut_unaccepted: int = 0  # reset on a connection the kernel queued and the server never took
    cut: list[str] = field(default_factory=list)  # reset or closed unanswered after acceptance

    def row(self, workers: int) -> str:
        return (
            f"workers {workers}: answered {self.answered}, refused before sending {self.refused},"
            f" reset before acceptance {self.cut_unaccepted},"
            f" reset on accepted connections {len(self.cut)}"
        )


@dataclass
class Connection:
    port: int
    answers: int = 0


@dataclass
class Ending:
    how: str
    connection: Connection | None  # None: refused


async def keep_alive_client(
    port: int, room: tuple[str, str], answered: asyncio.Event
) -> list[Ending]:
    """Sends over keep-alive connections, one request at a time, opening a new connection when
    an answer says `Connection: close`, until a connection is refused (the server stopped
    accepting). Each request's ending is returned with the connection it was sent on;
    `answered` is set at the first answer."""
    token, rid = room
    endings: list[Ending] = []
    sent = itertools.count()
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except (ConnectionRefusedError, ConnectionResetError):
            # Refused, or reset while the handshake was under way as accepting stopped.
            endings.append(Ending("refused", None))
            return endings
        connection = Connection(writer.get_extra_info("sockname")[1])
        try:
            while True:
                variables = {"input": {"token": token, "rid": rid, "msg": f"{next(sent)}"}}
                body = orjson.dumps({"query": SEND, "variables": variables})
                stage = "sending"
                writer.write(
                    b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                    b"content-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                stage = "waiting"
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:] if line
                )
                await reader.readexactly(int(headers[b"content-length"]))
                assert head.startswith(b"HTTP/1.1 200"), head
                endings.append(Ending("answered", connection))
                connection.answers += 1
                answered.set()
                if headers.get(b"connection") == b"close":
                    break
        except (ConnectionResetError, BrokenPipeError) as error:
            endings.append(Ending(f"{type(error).__name__} while {stage}", connection))
        except asyncio.IncompleteReadError:
            endings.append(Ending(f"closed unanswered while {stage}", connection))
        finally:
            writer.close()


def tally(endings: list[Ending], accepted_ports: set[int]) -> Tally:
    counts = Tally()
    for ending in endings:
        if ending.how == "answered":
            counts.answered += 1
        elif ending.connection is None:
            counts.refused += 1
        elif ending.connection.answers == 0 and ending.connection.port not in accepted_ports:
            counts.cut_unaccepted += 1
        else:
            connection = ending.connection
            counts.cut.append(f"{ending.how} after {connection.answers} answers on it")
    return counts


async def sigterm_under_keep_alive_load(
    upstream: str, rooms: list[tuple[str, str]], workers: int, directory: Path
) -> tuple[int, Tally]:
    log = directory / f"facade-{workers}.log"
    facade = ServerProcess(
        directory / "facade.db",
        "--backend", "upstream", "--upstream-url", upstream, "--workers", str(workers),
        environment={"LIVECHAT_GRAPHQL_LOG_LEVEL": "TRACE"},  # uvicorn's accepted connections
        log=log,
    ).start()  # fmt: skip
    try:
        loaded = [asyncio.Event() for _ in rooms]
        clients = [
            asyncio.create_task(keep_alive_client(facade.port, room, answered))
            for room, answered in zip(rooms, loaded, strict=True)
        ]
        # SIGTERM once every client has been answered at least once: all are sending.
        await asyncio.gather(*(answered.wait() for answered in loaded))
        status = await asyncio.to_thread(facade.terminate)
        endings = [ending for ended in await asyncio.gather(*clients) for ending in ended]
    finally:
        facade.stop()
    accepted = {int(port) for port in ACCEPTED.findall(log.read_bytes())}
    return status, tally(endings, accepted)


@pytest.mark.timeout(900)  # 10 servers started: minutes on a machine other work keeps busy
async def test_sigterm_under_keep_alive_load_resets_no_accepted_connection(
    rocketchat: RocketChatServer, tmp_path: Path
) -> None:
    """8 clients keep sending on keep-alive connections to one facade when it gets SIGTERM,
    with the default settings (the drain among them), one worker and two. A connection the
    server accepted is never reset or closed unanswered: every request sent on it is answered,
    the last with `Connection: close`. Only connections the kernel queued and the server never
    accepted (uvicorn's connection log says which it accepted) may be reset, and later ones
    are refused."""
    async with httpx.AsyncClient(base_url=rocketchat.url) as client:
        upstream = GraphQL(client)
        rooms = []
        for index in range(KEEP_ALIVE_CLIENTS):
            token = f"keep-alive-{index}"
            await upstream.visitor(token)
            rooms.append((token, (await upstream.room(token))["room"]["id"]))
    rows = []
    for run, workers in enumerate(RUNS):
        directory = tmp_path / f"run-{run}"
        directory.mkdir()
        status, counts = await sigterm_under_keep_alive_load(
            rocketchat.url, rooms, workers, directory
        )
        rows.append((workers, status, counts))
    print()
    for workers, status, counts in rows:
        print(f"exit {status}, {counts.row(workers)}: {counts.cut}")
    assert [status for _, status, _ in rows] == [0] * len(RUNS)
    assert [counts.cut for _, _, counts in rows] == [[]] * len(RUNS)
