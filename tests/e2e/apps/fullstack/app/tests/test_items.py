from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.config import settings
from app.models import User


def _admin(db: Session) -> str:
    return str(db.exec(select(User).where(User.email == settings.FIRST_SUPERUSER)).one().id)


def test_create_and_read_item(client: TestClient, db: Session) -> None:
    headers = {"x-user": _admin(db)}
    r = client.post(f"{settings.API_V1_STR}/items/", json={"title": "Foo"}, headers=headers)
    assert r.status_code == 200, r.text
    item = r.json()
    r = client.get(f"{settings.API_V1_STR}/items/{item['id']}", headers=headers)
    assert r.json()["title"] == "Foo"
    r = client.get(f"{settings.API_V1_STR}/items/", headers=headers)
    assert r.json()["count"] >= 1
    r = client.delete(f"{settings.API_V1_STR}/items/{item['id']}", headers=headers)
    assert r.status_code == 200
