from fastapi import APIRouter, HTTPException, status
from fastapi.responses import PlainTextResponse

from app.api.deps import CurrentUser, SessionDep
from app.schemas.order import OrderCreate, OrderRead
from app.services import orders as order_service

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("/", response_model=OrderRead, status_code=status.HTTP_201_CREATED)
def place_order(data: OrderCreate, db: SessionDep, current_user: CurrentUser):
    try:
        return order_service.place_order(db, current_user, data)
    except order_service.OrderError as exc:
        db.rollback()
        raise HTTPException(status_code=exc.status_code, detail=str(exc))


@router.get("/", response_model=list[OrderRead])
def list_my_orders(db: SessionDep, current_user: CurrentUser):
    return order_service.orders_for(db, current_user)


@router.get("/{order_id}", response_model=OrderRead)
def read_order(order_id: int, db: SessionDep, current_user: CurrentUser):
    order = order_service.get_order_for(db, current_user, order_id)
    if order is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Order not found")
    return order


@router.get("/{order_id}/receipt", response_class=PlainTextResponse)
def read_receipt(order_id: int, db: SessionDep, current_user: CurrentUser):
    order = order_service.get_order_for(db, current_user, order_id)
    if order is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Order not found")
    return order_service.read_receipt(order)
