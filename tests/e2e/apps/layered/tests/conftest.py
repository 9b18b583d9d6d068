import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def unique() -> Callable[[str], str]:
    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def user_headers(client: TestClient, unique: Callable[[str], str]) -> dict[str, str]:
    email = f"{unique('user')}@example.com"
    response = client.post("/users/", json={"email": email, "full_name": "Test User"})
    assert response.status_code == 201, response.text
    return {"X-User": email}


@pytest.fixture
def make_product(client: TestClient, user_headers: dict[str, str], unique: Callable[[str], str]):
    def make(name: str | None = None, price_cents: int = 1000, stock: int = 10) -> dict:
        payload = {"sku": unique("sku"), "name": name or unique("product"), "price_cents": price_cents, "stock": stock}
        response = client.post("/products/", json=payload, headers=user_headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make
