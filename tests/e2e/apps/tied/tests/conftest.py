from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from app.database import Base, SessionLocal, create_db_and_tables, engine


@pytest.fixture(scope="session", autouse=True)
def database() -> None:
    create_db_and_tables()


@pytest.fixture(autouse=True)
def clean_tables(database: None) -> None:
    """Every test starts with empty tables in the app's own database."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db() -> Iterator[Session]:
    session = SessionLocal()
    try:
        yield session
    finally:
        session.close()
