from fastapi.testclient import TestClient

from sql_app.main import app

client = TestClient(app)


def test_create_user():
    response = client.post("/users/", json={"email": "deadpool@example.com", "password": "chimichangas4life"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["email"] == "deadpool@example.com"
    assert data["is_active"] is True
    assert data["items"] == []
    assert "id" in data
    assert "password" not in data and "hashed_password" not in data

    response = client.get(f"/users/{data['id']}")
    assert response.status_code == 200, response.text
    assert response.json() == data


def test_create_user_duplicate_email():
    payload = {"email": "twice@example.com", "password": "secret"}
    assert client.post("/users/", json=payload).status_code == 200
    response = client.post("/users/", json=payload)
    assert response.status_code == 400
    assert response.json() == {"detail": "Email already registered"}


def test_read_users_pagination():
    already = client.get("/stats/").json()["users"]
    emails = [f"page{i}@example.com" for i in range(3)]
    for email in emails:
        assert client.post("/users/", json={"email": email, "password": "pw"}).status_code == 200

    response = client.get("/users/", params={"skip": already, "limit": 2})
    assert response.status_code == 200
    assert [u["email"] for u in response.json()] == emails[:2]

    response = client.get("/users/", params={"skip": already + 2, "limit": 2})
    assert [u["email"] for u in response.json()] == emails[2:]


def test_read_user_not_found():
    response = client.get("/users/987654")
    assert response.status_code == 404
    assert response.json() == {"detail": "User not found"}


def test_deactivate_user():
    user = client.post("/users/", json={"email": "leaving@example.com", "password": "bye"}).json()
    before = client.get("/stats/").json()

    response = client.delete(f"/users/{user['id']}")
    assert response.status_code == 200
    assert response.json()["is_active"] is False

    after = client.get("/stats/").json()
    assert after["users"] == before["users"]
    assert after["active_users"] == before["active_users"] - 1
