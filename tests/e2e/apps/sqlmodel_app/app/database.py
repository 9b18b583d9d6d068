from collections.abc import Generator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

sqlite_url = "sqlite://"

engine = create_engine(sqlite_url, connect_args={"check_same_thread": False}, poolclass=StaticPool)


def create_db_and_tables() -> None:
    SQLModel.metadata.create_all(engine)


def get_session() -> Generator[Session, None, None]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
