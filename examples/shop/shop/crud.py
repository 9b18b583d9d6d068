from sqlalchemy.orm import Session

from . import models, schemas


def get_category(db: Session, category_id: int) -> models.Category | None:
    return db.query(models.Category).filter(models.Category.id == category_id).first()


def get_category_by_name(db: Session, name: str) -> models.Category | None:
    return db.query(models.Category).filter(models.Category.name == name).first()


def get_categories(db: Session) -> list[models.Category]:
    return db.query(models.Category).order_by(models.Category.name).all()


def create_category(db: Session, category: schemas.CategoryCreate) -> models.Category:
    db_category = models.Category(name=category.name)
    db.add(db_category)
    db.commit()
    db.refresh(db_category)
    return db_category


def get_item(db: Session, item_id: int) -> models.Item | None:
    return db.query(models.Item).filter(models.Item.id == item_id).first()


def get_items(
    db: Session, skip: int = 0, limit: int = 100, category_id: int | None = None
) -> list[models.Item]:
    query = db.query(models.Item)
    if category_id is not None:
        query = query.filter(models.Item.category_id == category_id)
    return query.order_by(models.Item.id).offset(skip).limit(limit).all()


def count_items(db: Session) -> int:
    return db.query(models.Item).count()


def create_item(db: Session, item: schemas.ItemCreate) -> models.Item:
    db_item = models.Item(**item.model_dump())
    db.add(db_item)
    db.commit()
    db.refresh(db_item)
    return db_item


def create_order(db: Session, item: models.Item, quantity: int) -> models.Order:
    item.stock -= quantity
    db_order = models.Order(item_id=item.id, quantity=quantity, total=item.price * quantity)
    db.add(db_order)
    db.commit()
    db.refresh(db_order)
    return db_order
