import hashlib

from sqlalchemy.orm import Session

from app import models, schemas


def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def get_user(db: Session, user_id: int) -> models.User | None:
    return db.query(models.User).filter(models.User.id == user_id).first()


def get_user_by_email(db: Session, email: str) -> models.User | None:
    return db.query(models.User).filter(models.User.email == email).first()


def get_users(db: Session, skip: int = 0, limit: int = 100) -> list[models.User]:
    return db.query(models.User).order_by(models.User.id).offset(skip).limit(limit).all()


def create_user(db: Session, user: schemas.UserCreate) -> models.User:
    db_user = models.User(email=user.email, hashed_password=hash_password(user.password))
    db.add(db_user)
    db.commit()
    db.refresh(db_user)
    return db_user


def get_items(db: Session, skip: int = 0, limit: int = 100, done: bool | None = None) -> list[models.Item]:
    query = db.query(models.Item)
    if done is not None:
        query = query.filter(models.Item.done == done)
    return query.order_by(models.Item.id).offset(skip).limit(limit).all()


def create_user_item(db: Session, item: schemas.ItemCreate, user_id: int) -> models.Item:
    db_item = models.Item(**item.model_dump(), owner_id=user_id)
    db.add(db_item)
    db.commit()
    db.refresh(db_item)
    return db_item


def mark_item_done(db: Session, item_id: int) -> models.Item | None:
    db_item = db.get(models.Item, item_id)
    if db_item is None:
        return None
    db_item.done = True
    db.commit()
    db.refresh(db_item)
    return db_item
