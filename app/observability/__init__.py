"""What the service tells its operators: Prometheus metrics and OpenTelemetry traces.

Both are off unless settings turn them on, and neither knows a backend: backends and the
GraphQL layer call the small hook functions in `metrics` and wrap their transport with
`transport.observed`; with nothing enabled each hook costs one context-variable read.
"""
