from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.orm import Session

from . import crud, models, schemas
from .database import engine
from .dependencies import get_db
from .routers import items
from .services import audit

models.Base.metadata.create_all(bind=engine)

app = FastAPI(title="Shop")

app.include_router(items.router)


@app.post("/categories/", response_model=schemas.Category, status_code=201)
def create_category(category: schemas.CategoryCreate, db: Session = Depends(get_db)):
    if crud.get_category_by_name(db, category.name) is not None:
        raise HTTPException(status_code=400, detail="Category already exists")
    return crud.create_category(db, category)


@app.get("/categories/", response_model=list[schemas.Category])
def read_categories(db: Session = Depends(get_db)):
    return crud.get_categories(db)


@app.post("/orders/", response_model=schemas.Order, status_code=201)
def place_order(order: schemas.OrderCreate, db: Session = Depends(get_db)):
    item = crud.get_item(db, order.item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    if item.stock < order.quantity:
        raise HTTPException(status_code=409, detail="Not enough stock")
    db_order = crud.create_order(db, item, order.quantity)
    audit.record_event("order_placed", order_id=db_order.id, item_id=item.id, quantity=order.quantity)
    return db_order
