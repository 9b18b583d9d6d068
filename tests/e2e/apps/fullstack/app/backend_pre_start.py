import logging

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.core.db import engine

logger = logging.getLogger(__name__)


def init(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        session.exec(select(1))


def main() -> None:
    logger.info("Initializing service")
    init(engine)


if __name__ == "__main__":
    main()
