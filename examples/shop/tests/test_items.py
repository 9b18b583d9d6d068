from fastapi.testclient import TestClient

from shop.main import app

client = TestClient(app)


def _create_category(name: str) -> int:
    response = client.post("/categories/", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_create_and_read_item():
    category_id = _create_category("Kitchen")
    payload = {"name": "Kettle", "description": "1.7 l", "price": 24.5, "stock": 3, "category_id": category_id}
    response = client.post("/items/", json=payload)
    assert response.status_code == 201, response.text
    item = response.json()
    assert item == {"id": item["id"], **payload}

    response = client.get(f"/items/{item['id']}")
    assert response.status_code == 200
    assert response.json() == item


def test_create_item_with_unknown_category():
    response = client.post("/items/", json={"name": "Ghost", "price": 1.0, "category_id": 999_999})
    assert response.status_code == 400
    assert response.json()["detail"] == "Unknown category"


def test_create_item_validates_price():
    response = client.post("/items/", json={"name": "Free lunch", "price": 0})
    assert response.status_code == 422


def test_read_item_not_found():
    response = client.get("/items/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Item not found"}


def test_read_items_filter_and_pagination():
    category_id = _create_category("Stationery")
    for name in ("Pen", "Pencil", "Eraser"):
        assert client.post("/items/", json={"name": name, "price": 1.5, "category_id": category_id}).status_code == 201

    response = client.get("/items/", params={"category_id": category_id})
    assert [i["name"] for i in response.json()] == ["Pen", "Pencil", "Eraser"]

    response = client.get("/items/", params={"category_id": category_id, "skip": 1, "limit": 1})
    assert [i["name"] for i in response.json()] == ["Pencil"]


def test_count_items():
    before = client.get("/items/count").json()["count"]
    client.post("/items/", json={"name": "Mug", "price": 8.0})
    client.post("/items/", json={"name": "Plate", "price": 6.0})
    assert client.get("/items/count").json() == {"count": before + 2}
