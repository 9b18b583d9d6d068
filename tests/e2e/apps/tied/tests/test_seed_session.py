"""Tests that seed (and inspect) the database through the app's own SessionLocal, then go through HTTP."""
from fastapi.testclient import TestClient

from app import models
from app.database import SessionLocal
from app.main import app

client = TestClient(app)


def test_seeded_user_is_listed():
    db = SessionLocal()
    db.add(models.User(email="seeded@example.com", hashed_password="x"))
    db.add(models.User(email="inactive@example.com", hashed_password="x", is_active=False))
    db.commit()
    db.close()

    response = client.get("/users/")
    assert response.status_code == 200
    assert [(u["email"], u["is_active"]) for u in response.json()] == [
        ("seeded@example.com", True),
        ("inactive@example.com", False),
    ]


def test_seeded_items_appear_on_user():
    db = SessionLocal()
    user = models.User(email="owner@example.com", hashed_password="x")
    user.items = [models.Item(title="Seeded one"), models.Item(title="Seeded two", done=True)]
    db.add(user)
    db.commit()
    user_id = user.id
    db.close()

    body = client.get(f"/users/{user_id}").json()
    assert [(i["title"], i["done"]) for i in body["items"]] == [("Seeded one", False), ("Seeded two", True)]


def test_http_write_is_visible_in_session():
    response = client.post("/users/", json={"email": "written@example.com", "password": "plain"})
    assert response.status_code == 200

    db = SessionLocal()
    try:
        user = db.query(models.User).filter_by(email="written@example.com").one()
        assert user.hashed_password != "plain"
        assert user.id == response.json()["id"]
    finally:
        db.close()
