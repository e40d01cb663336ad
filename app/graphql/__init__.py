"""The API's face: Strawberry types and resolvers. Nothing here knows SQL or HTTP."""
