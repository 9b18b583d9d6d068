from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy.orm import Session

from .. import crud, schemas
from ..dependencies import get_db

router = APIRouter()


@router.post("/items/", response_model=schemas.Item, status_code=201)
def create_item(item: schemas.ItemCreate, db: Session = Depends(get_db)):
    if item.category_id is not None and crud.get_category(db, item.category_id) is None:
        raise HTTPException(status_code=400, detail="Unknown category")
    return crud.create_item(db, item)


@router.get("/items/", response_model=list[schemas.Item])
def read_items(
    skip: int = 0, limit: int = 100, category_id: int | None = None, db: Session = Depends(get_db)
):
    return crud.get_items(db, skip=skip, limit=limit, category_id=category_id)


@router.get("/items/count", response_model=schemas.ItemCount)
def count_items(db: Session = Depends(get_db)):
    return {"count": crud.count_items(db)}


@router.get("/items/{item_id}", response_model=schemas.Item)
def read_item(item_id: int, db: Session = Depends(get_db)):
    db_item = crud.get_item(db, item_id)
    if db_item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return db_item
