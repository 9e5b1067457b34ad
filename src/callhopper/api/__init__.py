"""HTTP adapter: FastAPI application, routers and schemas."""
