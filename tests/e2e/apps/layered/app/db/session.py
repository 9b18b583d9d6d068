from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from app.core.config import settings

connect_args = {"check_same_thread": False} if settings.DATABASE_URL.startswith("sqlite") else {}

engine = create_engine(settings.DATABASE_URL, connect_args=connect_args, echo=settings.SQL_ECHO, pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine, autoflush=False)
