"""asyncify-lint: find and mechanically fix what is still synchronous in FastAPI + SQLAlchemy apps."""

__version__ = "0.1.0"
