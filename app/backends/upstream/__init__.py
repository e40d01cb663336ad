"""The upstream backend: the same operations forwarded to a real Rocket.Chat, over its REST API
(httpx on aiohttp's pool, observed for metrics and traces by `observed.py`) and its realtime
API (DDP over a WebSocket, for room events)."""
