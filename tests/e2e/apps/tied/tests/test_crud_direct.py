"""Tests that call the crud layer directly with a Session (no HTTP), plus one that mixes crud and HTTP."""
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import crud, schemas
from app.main import app


def test_create_and_get_user(db: Session):
    user = crud.create_user(db, schemas.UserCreate(email="direct@example.com", password="secret"))
    assert user.id is not None
    assert user.hashed_password == crud.hash_password("secret")

    assert crud.get_user(db, user.id) is user
    assert crud.get_user_by_email(db, "direct@example.com").id == user.id
    assert crud.get_user_by_email(db, "nobody@example.com") is None


def test_items_pagination_and_done_filter(db: Session):
    owner = crud.create_user(db, schemas.UserCreate(email="pager@example.com", password="pw"))
    items = [crud.create_user_item(db, schemas.ItemCreate(title=f"Task {i}"), user_id=owner.id) for i in range(5)]
    crud.mark_item_done(db, items[1].id)
    crud.mark_item_done(db, items[3].id)

    assert [i.title for i in crud.get_items(db, skip=1, limit=2)] == ["Task 1", "Task 2"]
    assert [i.title for i in crud.get_items(db, done=True)] == ["Task 1", "Task 3"]
    assert [i.title for i in owner.items] == [f"Task {i}" for i in range(5)]
    assert crud.mark_item_done(db, 4242) is None


def test_crud_created_user_served_over_http(db: Session):
    user = crud.create_user(db, schemas.UserCreate(email="both@example.com", password="pw"))
    crud.create_user_item(db, schemas.ItemCreate(title="From crud"), user_id=user.id)

    client = TestClient(app)
    body = client.get(f"/users/{user.id}").json()
    assert body["email"] == "both@example.com"
    assert [i["title"] for i in body["items"]] == ["From crud"]
