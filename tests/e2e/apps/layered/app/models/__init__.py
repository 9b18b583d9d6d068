from app.models.order import Order, OrderLine
from app.models.product import Product
from app.models.user import User

__all__ = ["Order", "OrderLine", "Product", "User"]
