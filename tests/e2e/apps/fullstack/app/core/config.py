from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    SQLALCHEMY_DATABASE_URI: str = "sqlite:///./app.db"
    API_V1_STR: str = "/api/v1"
    FIRST_SUPERUSER: str = "admin@example.com"


settings = Settings()
