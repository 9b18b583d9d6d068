"""The FastAPI "Testing a Database" pattern: get_db is overridden with a sync session on a private in-memory engine."""
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from app import models
from app.database import Base
from app.main import app, get_db

SQLALCHEMY_DATABASE_URL = "sqlite://"

engine = create_engine(
    SQLALCHEMY_DATABASE_URL,
    connect_args={"check_same_thread": False},
    poolclass=StaticPool,
)
TestingSessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)


def override_get_db():
    try:
        db = TestingSessionLocal()
        yield db
    finally:
        db.close()


@pytest.fixture
def client() -> Iterator[TestClient]:
    Base.metadata.create_all(bind=engine)
    app.dependency_overrides[get_db] = override_get_db
    yield TestClient(app)
    app.dependency_overrides.clear()
    Base.metadata.drop_all(bind=engine)


def test_create_user(client: TestClient):
    response = client.post("/users/", json={"email": "deadpool@example.com", "password": "chimichangas4life"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["email"] == "deadpool@example.com"
    assert "id" in data
    user_id = data["id"]

    response = client.get(f"/users/{user_id}")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["email"] == "deadpool@example.com"
    assert data["id"] == user_id


def test_writes_go_to_the_testing_database(client: TestClient):
    user = client.post("/users/", json={"email": "isolated@example.com", "password": "pw"}).json()
    client.post(f"/users/{user['id']}/items/", json={"title": "Only in memory"})

    with TestingSessionLocal() as db:
        assert db.query(models.Item).count() == 1
        assert db.query(models.Item).one().owner.email == "isolated@example.com"
