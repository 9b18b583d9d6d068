from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.order import Order, OrderLine
from app.models.product import Product


def get(db: Session, order_id: int) -> Order | None:
    return db.get(Order, order_id)


def list_for_user(db: Session, user_id: int) -> Sequence[Order]:
    result = db.execute(select(Order).where(Order.user_id == user_id).order_by(Order.id))
    return result.scalars().all()


def products_by_id(db: Session, product_ids: list[int]) -> dict[int, Product]:
    products = db.scalars(select(Product).where(Product.id.in_(product_ids))).all()
    return {p.id: p for p in products}


def add(db: Session, order: Order, lines: list[OrderLine]) -> Order:
    order.lines.extend(lines)
    db.add(order)
    db.commit()
    db.refresh(order)
    return order
