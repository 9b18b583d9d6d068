from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.user import User


def get(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def get_by_email(db: Session, email: str) -> User | None:
    return db.scalars(select(User).where(User.email == email)).first()


def list_users(db: Session, *, skip: int = 0, limit: int = 50) -> Sequence[User]:
    stmt = select(User).order_by(User.id).offset(skip).limit(limit)
    return db.execute(stmt).scalars().all()


def create(db: Session, *, email: str, full_name: str | None) -> User:
    user = User(email=email, full_name=full_name)
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def update(db: Session, user: User, **fields: object) -> User:
    for name, value in fields.items():
        setattr(user, name, value)
    db.add(user)
    db.commit()
    db.refresh(user)
    return user
