"""Audit trail for business events.

In production this talks to a slow, synchronous audit backend; the sleep stands in for that round trip.
"""
import logging
import time

logger = logging.getLogger("shop.audit")


def record_event(event: str, **details: object) -> None:
    time.sleep(0.01)  # blocking call to the audit backend
    logger.info("audit event=%s details=%s", event, details)
