from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.models.order import Order, OrderLine
from app.models.user import User
from app.repositories import orders as order_repo
from app.schemas.order import OrderCreate
from app.utils import notify


class OrderError(Exception):
    status_code = 400


class UnknownProduct(OrderError):
    status_code = 404


class OutOfStock(OrderError):
    status_code = 409


def place_order(db: Session, user: User, data: OrderCreate) -> Order:
    products = order_repo.products_by_id(db, [line.product_id for line in data.lines])
    order = Order(user_id=user.id, total_cents=0)
    lines: list[OrderLine] = []
    for requested in data.lines:
        product = products.get(requested.product_id)
        if product is None:
            raise UnknownProduct(f"Product {requested.product_id} not found")
        if product.stock < requested.quantity:
            raise OutOfStock(f"Only {product.stock} of {product.sku} left")
        product.stock -= requested.quantity
        lines.append(
            OrderLine(product=product, quantity=requested.quantity, unit_price_cents=product.price_cents)
        )
        order.total_cents += requested.quantity * product.price_cents
    order = order_repo.add(db, order, lines)
    notify.send_receipt(order)
    return order


def orders_for(db: Session, user: User) -> Sequence[Order]:
    return order_repo.list_for_user(db, user.id)


def get_order_for(db: Session, user: User, order_id: int) -> Order | None:
    order = order_repo.get(db, order_id)
    if order is None or order.user_id != user.id:
        return None
    return order


def read_receipt(order: Order) -> str:
    with open(notify.receipt_path(order.id), encoding="utf-8") as fh:
        return fh.read()
