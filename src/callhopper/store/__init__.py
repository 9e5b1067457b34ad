"""Storage adapter: SQLAlchemy models, Alembic migrations and SQL for every port."""
