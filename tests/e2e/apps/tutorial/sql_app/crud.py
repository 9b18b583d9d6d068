from sqlalchemy.orm import Session

from . import models, schemas


def fake_hash_password(password: str) -> str:
    return password + "notreallyhashed"


def get_user(db: Session, user_id: int):
    return db.query(models.User).filter(models.User.id == user_id).first()


def get_user_by_email(db: Session, email: str):
    return db.query(models.User).filter_by(email=email).first()


def get_users(db: Session, skip: int = 0, limit: int = 100):
    return db.query(models.User).order_by(models.User.id).offset(skip).limit(limit).all()


def create_user(db: Session, user: schemas.UserCreate):
    db_user = models.User(email=user.email, hashed_password=fake_hash_password(user.password))
    db.add(db_user)
    db.commit()
    db.refresh(db_user)
    return db_user


def deactivate_user(db: Session, db_user: models.User):
    db_user.is_active = False
    db.commit()
    db.refresh(db_user)
    return db_user


def get_items(db: Session, skip: int = 0, limit: int = 100):
    return db.query(models.Item).order_by(models.Item.id).offset(skip).limit(limit).all()


def get_items_by_owner_email(db: Session, email: str):
    return (
        db.query(models.Item)
        .join(models.User, models.Item.owner_id == models.User.id)
        .filter(models.User.email == email)
        .order_by(models.Item.id)
        .all()
    )


def create_user_item(db: Session, item: schemas.ItemCreate, user_id: int):
    db_item = models.Item(**item.model_dump(), owner_id=user_id)
    db.add(db_item)
    db.commit()
    db.refresh(db_item)
    return db_item


def get_stats(db: Session) -> dict[str, int]:
    return {
        "users": db.query(models.User).count(),
        "active_users": db.query(models.User).filter(models.User.is_active.is_(True)).count(),
        "items": db.query(models.Item).count(),
    }
