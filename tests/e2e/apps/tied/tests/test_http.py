"""Plain HTTP tests: they only talk to the app through the client."""
from fastapi.testclient import TestClient

from app.main import app

client = TestClient(app)


def test_create_user():
    response = client.post("/users/", json={"email": "rick@example.com", "password": "wubbalubba"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["email"] == "rick@example.com"
    assert data["is_active"] is True
    assert data["items"] == []

    response = client.get(f"/users/{data['id']}")
    assert response.status_code == 200
    assert response.json() == data


def test_duplicate_email():
    client.post("/users/", json={"email": "morty@example.com", "password": "aw-jeez"})
    response = client.post("/users/", json={"email": "morty@example.com", "password": "aw-jeez"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Email already registered"}


def test_read_user_not_found():
    assert client.get("/users/4242").status_code == 404


def test_items_lifecycle():
    user = client.post("/users/", json={"email": "summer@example.com", "password": "pw"}).json()
    first = client.post(f"/users/{user['id']}/items/", json={"title": "Homework"}).json()
    client.post(f"/users/{user['id']}/items/", json={"title": "Phone", "description": "charge it"})

    response = client.post(f"/items/{first['id']}/done")
    assert response.status_code == 200
    assert response.json()["done"] is True

    assert [i["title"] for i in client.get("/items/", params={"done": False}).json()] == ["Phone"]
    assert [i["title"] for i in client.get(f"/users/{user['id']}").json()["items"]] == ["Homework", "Phone"]
    assert client.post("/items/4242/done").status_code == 404
