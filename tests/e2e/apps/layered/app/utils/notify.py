"""Customer notifications.

Receipts are rendered to text files that a mail relay picks up; the short sleep stands in for the relay handshake.
"""
import logging
import time
from pathlib import Path

from app.core.config import settings
from app.models.order import Order

logger = logging.getLogger(__name__)


def receipt_path(order_id: int) -> Path:
    return settings.RECEIPTS_DIR / f"order-{order_id}.txt"


def render_receipt(order: Order) -> str:
    lines = [f"Receipt for order #{order.id}", f"Customer: {order.user.email}", ""]
    for line in order.lines:
        amount = line.quantity * line.unit_price_cents
        lines.append(f"{line.quantity} x {line.product.name} ({line.product.sku}) = {amount / 100:.2f}")
    lines += ["", f"Total: {order.total_cents / 100:.2f}"]
    return "\n".join(lines) + "\n"


def send_receipt(order: Order) -> Path:
    path = receipt_path(order.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render_receipt(order))
    time.sleep(0.001)  # hand-off to the mail relay
    logger.info("receipt for order %s written to %s", order.id, path)
    return path
