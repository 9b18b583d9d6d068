from fastapi.testclient import TestClient

from shop.main import app

client = TestClient(app)


def test_create_category():
    response = client.post("/categories/", json={"name": "Books"})
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["name"] == "Books"
    assert isinstance(data["id"], int)


def test_duplicate_category_is_rejected():
    client.post("/categories/", json={"name": "Garden"})
    response = client.post("/categories/", json={"name": "Garden"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Category already exists"}


def test_read_categories_sorted_by_name():
    client.post("/categories/", json={"name": "Zoo supplies"})
    client.post("/categories/", json={"name": "Art"})
    response = client.get("/categories/")
    assert response.status_code == 200
    names = [c["name"] for c in response.json()]
    assert "Art" in names and "Zoo supplies" in names
    assert names == sorted(names)
