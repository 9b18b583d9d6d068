from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import app


@pytest.fixture(name="client")
def client_fixture() -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def create_team(client: TestClient):
    def create(name: str, headquarters: str = "Sharp Tower") -> dict:
        response = client.post("/teams/", json={"name": name, "headquarters": headquarters})
        assert response.status_code == 200, response.text
        return response.json()

    return create


@pytest.fixture
def create_hero(client: TestClient):
    def create(
        name: str, secret_name: str = "Unknown", age: int | None = None, team_ids: list[int] | None = None
    ) -> dict:
        payload = {"name": name, "secret_name": secret_name, "age": age, "team_ids": team_ids or []}
        response = client.post("/heroes/", json=payload)
        assert response.status_code == 200, response.text
        return response.json()

    return create
