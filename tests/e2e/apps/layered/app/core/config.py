import os
from pathlib import Path


class Settings:
    PROJECT_NAME: str = "Layered Shop"
    API_PREFIX: str = ""

    def __init__(self) -> None:
        self.DATABASE_URL: str = os.environ.get("DATABASE_URL", "sqlite:///./layered.db")
        self.RECEIPTS_DIR: Path = Path(os.environ.get("RECEIPTS_DIR", "./receipts"))
        self.SQL_ECHO: bool = os.environ.get("SQL_ECHO", "0") == "1"
        self.DEFAULT_PAGE_SIZE: int = int(os.environ.get("DEFAULT_PAGE_SIZE", "50"))


settings = Settings()
