"""Generate a deterministic sync FastAPI + SQLAlchemy project of about N lines (for benchmarks).

    python benchmarks/gen_project.py OUT_DIR [--lines 200000] [--seed 0]

Layout: ``OUT_DIR/pyproject.toml`` and a package ``shop/`` with ``db.py`` (engine, SessionLocal,
``get_db``), and groups of ``models_k.py`` / ``crud_k.py`` / ``services_k.py`` / ``routers/r_k.py``
that import each other, so the project index, dependency and call-graph facts are exercised.
The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil

DB = '''\
from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base, sessionmaker

engine = create_engine("sqlite:///./shop.db", connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine, autoflush=False)
Base = declarative_base()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
'''

MODEL = '''

class {cls}(Base):
    __tablename__ = "{table}"

    id = Column(Integer, primary_key=True, index=True)
    name = Column(String({size}), nullable=False)
    price = Column(Integer, default={price})
    owner_id = Column(Integer, ForeignKey("users_{k}.id"))
    owner = relationship("User{k}", back_populates="{table}")
'''

CRUD = '''

def get_{n}(db: Session, item_id: int):
    return db.query({cls}).filter({cls}.id == item_id).first()


def list_{n}(db: Session, skip: int = 0, limit: int = {limit}):
    rows = db.query({cls}).order_by({cls}.id).offset(skip).limit(limit).all()
    return [r for r in rows if r.price >= {price}]


def create_{n}(db: Session, name: str, price: int = {price}):
    obj = {cls}(name=name, price=price)
    db.add(obj)
    db.commit()
    db.refresh(obj)
    return obj


def delete_{n}(db: Session, item_id: int):
    obj = db.get({cls}, item_id)
    if obj is None:
        return False
    db.delete(obj)
    db.commit()
    return True
'''

SERVICE = '''

def sync_{n}_catalogue(db: Session, url: str = "https://example.invalid/{table}"):
    response = requests.get(url, timeout={timeout})
    response.raise_for_status()
    for entry in response.json():
        crud.create_{n}(db, entry["name"], int(entry.get("price", {price})))
    time.sleep(0.{delay})
    return len(response.json())


def export_{n}(db: Session, path: str = "/tmp/{table}.csv"):
    rows = crud.list_{n}(db, limit={limit})
    with open(path, "w") as f:
        for row in rows:
            f.write(f"{{row.id}},{{row.name}},{{row.price}}\\n")
    return os.path.getsize(path)


class {cls}Cache:
    def __init__(self):
        self._data = {{}}

    def get(self, db: Session, key: int):
        if key not in self._data:
            self._data[key] = crud.get_{n}(db, key)
        return self._data[key]
'''

ROUTE = '''

@router.get("/{table}/{{item_id}}")
def read_{n}(item_id: int, db: Session = Depends(get_db)):
    item = crud.get_{n}(db, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="{cls} not found")
    return {{"id": item.id, "name": item.name, "price": item.price}}


@router.get("/{table}")
def list_{n}_route(skip: int = 0, limit: int = {limit}, db: Session = Depends(get_db)):
    return [{{"id": i.id, "name": i.name}} for i in crud.list_{n}(db, skip, limit)]


@router.post("/{table}", status_code=201)
def create_{n}_route(name: str, price: int = {price}, db: Session = Depends(get_db)):
    return crud.create_{n}(db, name, price).id


@router.post("/{table}/sync")
async def sync_{n}_route(db: Session = Depends(get_db)):
    return {{"count": services.sync_{n}_catalogue(db)}}


@router.delete("/{table}/{{item_id}}")
def delete_{n}_route(item_id: int, db: Session = Depends(get_db), user=Depends(current_user)):
    return {{"deleted": crud.delete_{n}(db, item_id)}}
'''

HEADERS = {
    "models": "from sqlalchemy import Column, ForeignKey, Integer, String\nfrom sqlalchemy.orm import relationship\n\n"
              "from shop.db import Base\n\n\nclass User{k}(Base):\n    __tablename__ = \"users_{k}\"\n\n"
              "    id = Column(Integer, primary_key=True)\n",
    "crud": "from sqlalchemy.orm import Session\n\nfrom shop.models_{k} import *  # noqa: F401,F403\n",
    "services": "import os\nimport time\n\nimport requests\nfrom sqlalchemy.orm import Session\n\n"
                "from shop import crud_{k} as crud\n",
    "routers": "from fastapi import APIRouter, Depends, HTTPException, Header\nfrom sqlalchemy.orm import Session\n\n"
               "from shop import crud_{k} as crud, services_{k} as services\nfrom shop.db import get_db\n\n"
               "router = APIRouter(prefix=\"/g{k}\")\n\n\ndef current_user(x_token: str = Header(\"\")):\n"
               "    return {{\"token\": x_token}}\n",
}
TEMPLATES = {"models": MODEL, "crud": CRUD, "services": SERVICE, "routers": ROUTE}
ENTITIES_PER_GROUP = 20


def generate(out: str, lines: int = 200_000, seed: int = 0) -> int:
    """Write the project into ``out`` (replaced if it exists); returns the number of lines written."""
    rng = random.Random(seed)
    if os.path.exists(out):
        shutil.rmtree(out)
    pkg = os.path.join(out, "shop")
    os.makedirs(os.path.join(pkg, "routers"))
    files: dict[str, str] = {
        os.path.join(out, "pyproject.toml"): '[project]\nname = "shop"\nversion = "0"\n',
        os.path.join(pkg, "__init__.py"): "",
        os.path.join(pkg, "db.py"): DB,
    }
    total = sum(t.count("\n") for t in files.values())
    main_imports = []
    k = 0
    while total < lines:
        names = []
        for j in range(ENTITIES_PER_GROUP):
            n = f"{rng.choice(['item', 'order', 'product', 'invoice', 'stock', 'review'])}_{k}_{j}"
            names.append(n)
        for kind, template in TEMPLATES.items():
            rel = os.path.join("routers", f"r_{k}.py") if kind == "routers" else f"{kind}_{k}.py"
            parts = [HEADERS[kind].format(k=k)]
            for n in names:
                parts.append(template.format(
                    n=n, cls="".join(w.capitalize() for w in n.split("_")), table=n + "s", k=k,
                    size=rng.choice([32, 64, 128, 255]), price=rng.randint(0, 999), limit=rng.choice([10, 50, 100]),
                    timeout=rng.randint(1, 30), delay=rng.randint(1, 9),
                ))
            text = "".join(parts)
            files[os.path.join(pkg, rel)] = text
            total += text.count("\n")
        main_imports.append(k)
        k += 1
    files[os.path.join(pkg, "routers", "__init__.py")] = ""
    main = "from fastapi import FastAPI\n\n" + "".join(
        f"from shop.routers.r_{i} import router as router_{i}\n" for i in main_imports
    ) + "\napp = FastAPI()\n" + "".join(f"app.include_router(router_{i})\n" for i in main_imports)
    files[os.path.join(pkg, "main.py")] = main
    total += main.count("\n")
    for path, text in files.items():
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    n = generate(args.out, args.lines, args.seed)
    print(f"wrote {n} lines to {args.out}")


if __name__ == "__main__":
    main()
