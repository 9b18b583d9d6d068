from fastapi.testclient import TestClient

from sql_app.main import app

client = TestClient(app)


def create_user(email: str) -> dict:
    response = client.post("/users/", json={"email": email, "password": "pw"})
    assert response.status_code == 200, response.text
    return response.json()


def test_create_item_for_user():
    user = create_user("owner@example.com")
    response = client.post(
        f"/users/{user['id']}/items/", json={"title": "Portal gun", "description": "Interdimensional"}
    )
    assert response.status_code == 200, response.text
    item = response.json()
    assert item["title"] == "Portal gun"
    assert item["description"] == "Interdimensional"
    assert item["owner_id"] == user["id"]


def test_create_item_for_missing_user():
    response = client.post("/users/987654/items/", json={"title": "Orphan"})
    assert response.status_code == 404


def test_read_items():
    user = create_user("collector@example.com")
    titles = ["Stamp", "Coin", "Postcard"]
    for title in titles:
        client.post(f"/users/{user['id']}/items/", json={"title": title})

    response = client.get("/items/")
    assert response.status_code == 200
    listed = [(i["title"], i["owner_id"]) for i in response.json()]
    for title in titles:
        assert (title, user["id"]) in listed

    assert len(client.get("/items/", params={"limit": 1}).json()) == 1


def test_read_items_by_owner_email():
    alice = create_user("alice@example.com")
    bob = create_user("bob@example.com")
    client.post(f"/users/{alice['id']}/items/", json={"title": "Alice's book"})
    client.post(f"/users/{bob['id']}/items/", json={"title": "Bob's bike"})
    client.post(f"/users/{alice['id']}/items/", json={"title": "Alice's lamp"})

    response = client.get("/items/", params={"owner_email": "alice@example.com"})
    assert response.status_code == 200
    assert [i["title"] for i in response.json()] == ["Alice's book", "Alice's lamp"]


def test_user_includes_items():
    user = create_user("hoarder@example.com")
    client.post(f"/users/{user['id']}/items/", json={"title": "Box", "description": "cardboard"})
    client.post(f"/users/{user['id']}/items/", json={"title": "Tape"})

    response = client.get(f"/users/{user['id']}")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["title"], i["description"]) for i in items] == [("Box", "cardboard"), ("Tape", None)]
    assert all(i["owner_id"] == user["id"] for i in items)

    listed = {u["id"]: u for u in client.get("/users/", params={"limit": 1000}).json()}
    assert [i["title"] for i in listed[user["id"]]["items"]] == ["Box", "Tape"]


def test_stats_counts_items():
    before = client.get("/stats/").json()
    user = create_user("counter@example.com")
    client.post(f"/users/{user['id']}/items/", json={"title": "One"})
    after = client.get("/stats/").json()
    assert after["users"] == before["users"] + 1
    assert after["items"] == before["items"] + 1
