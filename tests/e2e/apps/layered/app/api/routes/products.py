from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from app.api.deps import CurrentUser, SessionDep
from app.repositories.products import ProductRepository
from app.schemas.product import ProductCreate, ProductPage, ProductRead

router = APIRouter(prefix="/products", tags=["products"])


def get_product_repository(db: SessionDep) -> ProductRepository:
    return ProductRepository(db)


ProductRepo = Annotated[ProductRepository, Depends(get_product_repository)]


@router.post("/", response_model=ProductRead, status_code=status.HTTP_201_CREATED)
def create_product(data: ProductCreate, repo: ProductRepo, _: CurrentUser):
    if repo.get_by_sku(data.sku) is not None:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail="SKU already exists")
    return repo.create(data)


@router.get("/", response_model=ProductPage)
def search_products(
    repo: ProductRepo,
    q: str | None = None,
    skip: int = 0,
    limit: Annotated[int, Query(le=100)] = 50,
):
    total, items = repo.search(q=q, skip=skip, limit=limit)
    return ProductPage(total=total, items=[ProductRead.model_validate(p) for p in items])


@router.get("/{product_id}", response_model=ProductRead)
def read_product(product_id: int, repo: ProductRepo):
    product = repo.get(product_id)
    if product is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Product not found")
    return product


@router.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_product(product_id: int, repo: ProductRepo, _: CurrentUser):
    product = repo.get(product_id)
    if product is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Product not found")
    repo.delete(product)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
