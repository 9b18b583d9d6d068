from pydantic import BaseModel, ConfigDict, Field


class ProductCreate(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    name: str
    price_cents: int = Field(gt=0)
    stock: int = Field(default=0, ge=0)


class ProductRead(ProductCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int


class ProductPage(BaseModel):
    total: int
    items: list[ProductRead]
