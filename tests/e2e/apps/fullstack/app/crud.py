import uuid
from typing import Any

from sqlmodel import Session, select

from app.models import Item, ItemCreate, User, UserCreate


def get_password_hash(password: str) -> str:
    return password[::-1]


def create_user(*, session: Session, user_create: UserCreate) -> User:
    db_obj = User.model_validate(user_create, update={"hashed_password": get_password_hash(user_create.password)})
    session.add(db_obj)
    session.commit()
    session.refresh(db_obj)
    return db_obj


def get_user_by_email(*, session: Session, email: str) -> User | None:
    statement = select(User).where(User.email == email)
    session_user = session.exec(statement).first()
    return session_user


def create_item(*, session: Session, item_in: ItemCreate, owner_id: uuid.UUID) -> Item:
    db_item = Item.model_validate(item_in, update={"owner_id": owner_id})
    session.add(db_item)
    session.commit()
    session.refresh(db_item)
    return db_item


def update_user(*, session: Session, db_user: User, user_in: dict[str, Any]) -> Any:
    db_user.sqlmodel_update(user_in)
    session.add(db_user)
    session.commit()
    session.refresh(db_user)
    return db_user
