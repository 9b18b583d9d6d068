from fastapi.testclient import TestClient
from sqlmodel import Session

from app import crud
from app.core.config import settings
from app.models import UserCreate


def test_items_are_private(client: TestClient, db: Session) -> None:
    owner = crud.create_user(session=db, user_create=UserCreate(email="owner@example.com", password="pw"))
    other = crud.create_user(session=db, user_create=UserCreate(email="other@example.com", password="pw"))
    r = client.post(f"{settings.API_V1_STR}/items/", json={"title": "Mine"}, headers={"x-user": str(owner.id)})
    assert r.status_code == 200, r.text
    item_id = r.json()["id"]
    r = client.get(f"{settings.API_V1_STR}/items/{item_id}", headers={"x-user": str(other.id)})
    assert r.status_code == 400
    assert r.json() == {"detail": "Not enough permissions"}
    r = client.get(f"{settings.API_V1_STR}/items/", headers={"x-user": str(other.id)})
    assert r.json() == {"data": [], "count": 0}


def test_unknown_user(client: TestClient) -> None:
    r = client.get(f"{settings.API_V1_STR}/items/", headers={"x-user": "00000000-0000-0000-0000-000000000000"})
    assert r.status_code == 404


def test_password_is_hashed(db: Session) -> None:
    user = crud.create_user(session=db, user_create=UserCreate(email="hash@example.com", password="secret"))
    assert user.hashed_password != "secret"
    assert crud.get_user_by_email(session=db, email="hash@example.com").id == user.id
