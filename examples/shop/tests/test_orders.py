from fastapi.testclient import TestClient

from shop.main import app

client = TestClient(app)


def _create_item(name: str, price: float, stock: int) -> dict:
    response = client.post("/items/", json={"name": name, "price": price, "stock": stock})
    assert response.status_code == 201, response.text
    return response.json()


def test_place_order_reduces_stock():
    item = _create_item("Lamp", price=30.0, stock=5)
    response = client.post("/orders/", json={"item_id": item["id"], "quantity": 2})
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["item_id"] == item["id"]
    assert order["quantity"] == 2
    assert order["total"] == 60.0

    assert client.get(f"/items/{item['id']}").json()["stock"] == 3


def test_order_more_than_stock():
    item = _create_item("Rare vase", price=500.0, stock=1)
    response = client.post("/orders/", json={"item_id": item["id"], "quantity": 2})
    assert response.status_code == 409
    assert client.get(f"/items/{item['id']}").json()["stock"] == 1


def test_order_unknown_item():
    response = client.post("/orders/", json={"item_id": 999_999, "quantity": 1})
    assert response.status_code == 404
