"""Scaling of the check of one large module: seconds per MB against read + ``ast.parse`` of it.

    python benchmarks/bench_large_files.py [--sizes 1,4,16] [--profile N] [--write DIR --sizes S]

For each size (in MB of source) it generates one deterministic sync FastAPI + SQLAlchemy module of
that size (``generate_module``: models, repositories, CRUD functions with session calls, services
with blocking calls, endpoints with ``Depends``, event handlers, async functions with blocking and
un-awaited session calls, so every rule family has work), then measures in the same run:

  floor = read + ``ast.parse`` of the file (the fastest of two, one before and one after the check);
  check = what the CLI does in check mode on a project made of that file (``Project`` + ``Linter``,
          load + check, all default rules, the whole-project analysis, no summary cache).

and prints seconds per MB of each and the ratio check/floor. The work per file is linear in its
size when the ratio does not grow with the size. Files above ``max-file-size`` (10 MB by default)
are not analysed: the benchmark raises the limit for its own run.

``--write DIR`` writes the project (``DIR/pyproject.toml``, ``DIR/big_app.py``) for the first size
and exits, to run the CLI or a profiler on it.
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import os
import pstats
import sys
import tempfile
import time
import warnings

HEADER = '''\
"""A generated sync FastAPI + SQLAlchemy application module (asyncify-lint benchmark)."""

import asyncio
import json
import os
import subprocess
import time

import httpx
import requests
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from sqlalchemy import Column, ForeignKey, Integer, String, create_engine, select
from sqlalchemy.orm import Session, declarative_base, relationship, sessionmaker

engine = create_engine("sqlite:///./big.db", connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine, autoflush=False)
Base = declarative_base()
app = FastAPI()
router = APIRouter(prefix="/api")


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
'''

UNIT = '''

class Item{k}(Base):
    __tablename__ = "items_{k}"

    id = Column(Integer, primary_key=True, index=True)
    name = Column(String({size}), nullable=False)
    price = Column(Integer, default={price})
    owner_id = Column(Integer, ForeignKey("users.id"))
    owner = relationship("User")


class Item{k}Repository:
    def __init__(self, db: Session):
        self.db = db
        self.client = httpx.Client(timeout={timeout})

    def get(self, item_id: int):
        return self.db.query(Item{k}).filter(Item{k}.id == item_id).first()

    def fetch_remote(self, url: str = "https://example.invalid/items_{k}"):
        return self.client.get(url).json()


def get_item_{k}(db: Session, item_id: int):
    return db.query(Item{k}).filter(Item{k}.id == item_id).first()


def create_item_{k}(db: Session, name: str, price: int = {price}):
    obj = Item{k}(name=name, price=price)
    db.add(obj)
    db.commit()
    db.refresh(obj)
    return obj


def sync_item_{k}(db: Session, url: str = "https://example.invalid/catalogue/{k}"):
    response = requests.get(url, timeout={timeout})
    time.sleep(0.{delay})
    with open("/tmp/items_{k}.json", "w") as f:
        f.write(json.dumps(response.json()))
    subprocess.run(["true"], check=False)
    return create_item_{k}(db, response.json()["name"])


def current_user_{k}(x_token: str = Header("")):
    return {{"token": x_token, "unit": {k}}}


@router.get("/items_{k}/{{item_id}}")
def read_item_{k}(item_id: int, db: Session = Depends(get_db), user=Depends(current_user_{k})):
    item = get_item_{k}(db, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="Item{k} not found")
    return {{"id": item.id, "name": item.name, "price": item.price}}


@router.post("/items_{k}/sync")
async def sync_item_{k}_route(db: Session = Depends(get_db)):
    time.sleep(0.{delay})
    requests.post("https://example.invalid/hooks/{k}", json={{"unit": {k}}})
    return {{"count": sync_item_{k}(db)}}


@app.on_event("startup")
def startup_{k}():
    os.makedirs("/tmp/items_{k}", exist_ok=True)


async def refresh_item_{k}(db: Session, item_id: int):
    result = db.execute(select(Item{k}).where(Item{k}.id == item_id))
    db.commit()
    await asyncio.sleep(0)
    return result.scalars().first()
'''

FOOTER = '''

app.include_router(router)
'''


def generate_module(size: int, seed: int = 0) -> str:
    """A module of about ``size`` bytes (never less): the header, then units of one model, one
    repository class, CRUD and service functions, two endpoints, an event handler and an async
    function each; the same bytes for the same arguments."""
    parts = [HEADER]
    total = len(HEADER) + len(FOOTER)
    k = 0
    while total < size:
        # deterministic variety in the numbers, from the unit and the seed (no random state)
        h = (k * 2654435761 + seed * 40503) & 0xFFFFFFFF
        unit = UNIT.format(k=k, size=16 + h % 240, price=h % 1000, timeout=1 + h % 30, delay=1 + h % 9)
        parts.append(unit)
        total += len(unit)
        k += 1
    parts.append(FOOTER)
    return "".join(parts)


def write_project(root: str, size: int, seed: int = 0, name: str = "big_app.py") -> str:
    """A project made of one generated module; returns the module's path."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "pyproject.toml"), "w") as f:
        f.write('[project]\nname = "big-app"\nversion = "0"\n')
    path = os.path.join(root, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(generate_module(size, seed))
    return path


def floor(path: str) -> float:
    t = time.perf_counter()
    with open(path, "rb") as f:
        data = f.read()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ast.parse(data, filename=path)
    return time.perf_counter() - t


def check(root: str, path: str, profile: int = 0) -> tuple[float, int]:
    """One check of the file as the CLI runs it: collector paused, no summary cache, limit lifted."""
    from asyncify_lint.config import Settings
    from asyncify_lint.engine.runner import Linter, gc_paused
    from asyncify_lint.project import Project

    os.environ["ASYNCIFY_LINT_NO_CACHE"] = "1"
    settings = Settings()
    if hasattr(settings, "max_file_size"):
        settings.max_file_size = 0  # no limit: this is what is measured
    prof = cProfile.Profile() if profile else None
    t = time.perf_counter()
    with gc_paused():
        if prof is not None:
            prof.enable()
        linter = Linter(Project(root, settings), settings)
        n = len(linter.check(linter.load(path, os.path.basename(path))))
        if prof is not None:
            prof.disable()
    elapsed = time.perf_counter() - t
    if prof is not None:
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
    return elapsed, n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1,4,16", help="comma-separated sizes in MB (default 1,4,16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N functions (cProfile)")
    p.add_argument("--write", metavar="DIR", help="write the project for the first size to DIR and exit")
    args = p.parse_args()
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    if args.write:
        print(write_project(args.write, int(sizes[0] * 1_000_000), args.seed))
        return 0
    rows = []
    for mb in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = write_project(tmp, int(mb * 1_000_000), args.seed)
            real_mb = os.path.getsize(path) / 1_000_000
            with open(path, "rb") as f:
                lines = f.read().count(b"\n")
            floor(path)  # warm the OS cache and the interpreter
            f1 = floor(path)
            t_check, ndiag = check(tmp, path, args.profile)
            f2 = floor(path)
            t_floor = min(f1, f2)
            rows.append((mb, real_mb, lines, t_floor, t_check, ndiag))
            print(f"  {mb:g} MB done: floor {t_floor:.2f} s, check {t_check:.2f} s", file=sys.stderr, flush=True)
    print(f"{'size MB':>8} {'lines':>9} {'floor s/MB':>11} {'check s/MB':>11} {'ratio':>7} {'check s':>8} {'diags':>7}")
    for mb, real_mb, lines, t_floor, t_check, ndiag in rows:
        print(f"{real_mb:>8.2f} {lines:>9} {t_floor / real_mb:>11.3f} {t_check / real_mb:>11.3f} "
              f"{t_check / t_floor:>7.1f} {t_check:>8.2f} {ndiag:>7}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
