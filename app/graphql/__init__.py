"""The API's face: Strawberry types and resolvers, and the GraphQL router that serves them
(GraphiQL, JSON in and out). Nothing here knows SQL or a backend's wire format."""
