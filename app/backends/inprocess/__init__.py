"""The in-process backend: Rocket.Chat's livechat rules on an embedded SQLite store."""
