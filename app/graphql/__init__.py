"""The API's face: Strawberry types and resolvers, the extensions that guard and watch them, and
the GraphQL router that serves them (GraphiQL, JSON in and out). Nothing here knows SQL, HTTP
to Rocket.Chat or a concrete backend; DateTime values are written in Rocket.Chat's format, the
one format the API promises (`scalars.py`)."""
