"""The upstream backend: the same operations forwarded to a real Rocket.Chat over HTTP."""
