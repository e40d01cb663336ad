"""What the service tells its operators: Prometheus metrics and OpenTelemetry traces.

Both are off unless settings turn them on, and neither knows a backend or the schema: backends
and the GraphQL layer call the small hook functions in `metrics` (the upstream transport is
wrapped by `app.backends.upstream.observed`, the operations watched by
`app.graphql.observers`); with nothing enabled each hook costs one context-variable read.
`tracing` sets up the tracer provider, `http` serves /metrics and traces each request.
"""
