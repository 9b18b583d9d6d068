from fastapi.testclient import TestClient


def test_create_hero(client: TestClient):
    response = client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson"})
    data = response.json()

    assert response.status_code == 200
    assert data["name"] == "Deadpond"
    assert data["age"] is None
    assert data["id"] is not None
    assert data["teams"] == []
    assert "secret_name" not in data


def test_create_hero_incomplete(client: TestClient):
    response = client.post("/heroes/", json={"name": "Deadpond"})
    assert response.status_code == 422


def test_read_heroes_filters_and_pagination(client: TestClient, create_hero):
    ids = [create_hero(f"Filterman {i}", age=20 + i * 10)["id"] for i in range(4)]

    response = client.get("/heroes/", params={"name": "Filterman", "min_age": 30})
    assert response.status_code == 200
    assert [h["id"] for h in response.json()] == ids[1:]

    response = client.get("/heroes/", params={"name": "Filterman", "offset": 1, "limit": 2})
    assert [h["name"] for h in response.json()] == ["Filterman 1", "Filterman 2"]

    assert client.get("/heroes/", params={"limit": 101}).status_code == 422


def test_update_hero(client: TestClient, create_hero):
    hero = create_hero("Rusty-Man", secret_name="Tommy Sharp", age=48)
    response = client.patch(f"/heroes/{hero['id']}", json={"age": 49})
    assert response.status_code == 200
    assert response.json() == {"id": hero["id"], "name": "Rusty-Man", "age": 49}

    assert client.patch("/heroes/987654", json={"age": 1}).status_code == 404


def test_delete_hero(client: TestClient, create_hero):
    hero = create_hero("Spider-Boy", secret_name="Pedro Parqueador")
    response = client.delete(f"/heroes/{hero['id']}")
    assert response.status_code == 200
    assert response.json() == {"ok": True}

    assert client.get(f"/heroes/{hero['id']}").status_code == 404
    assert client.delete(f"/heroes/{hero['id']}").status_code == 404
