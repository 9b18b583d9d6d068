from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.models.user import User
from app.repositories import users as user_repo
from app.schemas.user import UserCreate, UserUpdate


class EmailAlreadyRegistered(Exception):
    pass


def register(db: Session, data: UserCreate) -> User:
    email = data.email.lower()
    if user_repo.get_by_email(db, email) is not None:
        raise EmailAlreadyRegistered(email)
    return user_repo.create(db, email=email, full_name=data.full_name)


def update_profile(db: Session, user: User, data: UserUpdate) -> User:
    return user_repo.update(db, user, **data.model_dump(exclude_unset=True))


def list_users(db: Session, skip: int, limit: int) -> Sequence[User]:
    return user_repo.list_users(db, skip=skip, limit=limit)
