"""The models and seed data of the differential tests (the reference harness's, verbatim in meaning).

``MODELS`` is module text: the scratch module that our fixer rewrites defines the models itself, so
the fixer resolves `User` / `Address` as mapped classes statically, and both the legacy and the fixed
module can be executed as they are.
"""

MODELS = '''\
from sqlalchemy import Column, ForeignKey, Integer, String, func, or_, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, declarative_base, joinedload, relationship, selectinload

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    age = Column(Integer)
    addresses = relationship("Address", back_populates="user")


class Address(Base):
    __tablename__ = "addresses"
    id = Column(Integer, primary_key=True)
    email = Column(String(50))
    user_id = Column(Integer, ForeignKey("users.id"))
    user = relationship("User", back_populates="addresses")
'''


def seed(session, User, Address) -> None:
    """4 users (alice 30, bob 25, carol 35, bob 40); addresses 1, 2 -> user 1, address 3 -> user 2."""
    session.add_all([User(id=1, name="alice", age=30), User(id=2, name="bob", age=25),
                     User(id=3, name="carol", age=35), User(id=4, name="bob", age=40)])
    session.add_all([Address(id=1, email="a1@x", user_id=1), Address(id=2, email="a2@x", user_id=1),
                     Address(id=3, email="b@x", user_id=2)])
    session.commit()
