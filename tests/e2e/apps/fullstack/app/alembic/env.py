"""Alembic's migration environment (run by the `alembic` command, synchronously, outside the app)."""
from alembic import context
from sqlmodel import SQLModel

from app.core.db import engine

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
