from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Query
from sqlmodel import col, select

from .database import SessionDep, create_db_and_tables
from .models import Hero, HeroCreate, HeroPublic, HeroPublicWithTeams, HeroUpdate, Team
from .routers import teams


@asynccontextmanager
async def lifespan(app: FastAPI):
    create_db_and_tables()
    yield


app = FastAPI(lifespan=lifespan)
app.include_router(teams.router)


@app.post("/heroes/", response_model=HeroPublicWithTeams)
def create_hero(hero: HeroCreate, session: SessionDep):
    db_hero = Hero.model_validate(hero)
    if hero.team_ids:
        db_hero.teams = list(session.exec(select(Team).where(col(Team.id).in_(hero.team_ids))).all())
        if len(db_hero.teams) != len(set(hero.team_ids)):
            raise HTTPException(status_code=404, detail="Team not found")
    session.add(db_hero)
    session.commit()
    session.refresh(db_hero)
    return db_hero


@app.get("/heroes/", response_model=list[HeroPublic])
def read_heroes(
    session: SessionDep,
    offset: int = 0,
    limit: int = Query(default=100, le=100),
    min_age: int | None = None,
    name: str | None = None,
):
    statement = select(Hero)
    if min_age is not None:
        statement = statement.where(Hero.age >= min_age)
    if name:
        statement = statement.where(col(Hero.name).contains(name))
    heroes = session.exec(statement.order_by(Hero.id).offset(offset).limit(limit)).all()
    return heroes


@app.get("/heroes/{hero_id}", response_model=HeroPublicWithTeams)
def read_hero(hero_id: int, session: SessionDep):
    hero = session.get(Hero, hero_id)
    if not hero:
        raise HTTPException(status_code=404, detail="Hero not found")
    return hero


@app.patch("/heroes/{hero_id}", response_model=HeroPublic)
def update_hero(hero_id: int, hero: HeroUpdate, session: SessionDep):
    db_hero = session.get(Hero, hero_id)
    if not db_hero:
        raise HTTPException(status_code=404, detail="Hero not found")
    db_hero.sqlmodel_update(hero.model_dump(exclude_unset=True))
    session.add(db_hero)
    session.commit()
    session.refresh(db_hero)
    return db_hero


@app.delete("/heroes/{hero_id}")
def delete_hero(hero_id: int, session: SessionDep):
    hero = session.get(Hero, hero_id)
    if not hero:
        raise HTTPException(status_code=404, detail="Hero not found")
    session.delete(hero)
    session.commit()
    return {"ok": True}


@app.put("/heroes/{hero_id}/teams/{team_id}", response_model=HeroPublicWithTeams)
def add_hero_to_team(hero_id: int, team_id: int, session: SessionDep):
    hero = session.get(Hero, hero_id)
    team = session.get(Team, team_id)
    if not hero or not team:
        raise HTTPException(status_code=404, detail="Hero or team not found")
    if team not in hero.teams:
        hero.teams.append(team)
        session.add(hero)
        session.commit()
        session.refresh(hero)
    return hero


@app.delete("/heroes/{hero_id}/teams/{team_id}", response_model=HeroPublicWithTeams)
def remove_hero_from_team(hero_id: int, team_id: int, session: SessionDep):
    hero = session.get(Hero, hero_id)
    if not hero:
        raise HTTPException(status_code=404, detail="Hero not found")
    hero.teams = [team for team in hero.teams if team.id != team_id]
    session.add(hero)
    session.commit()
    session.refresh(hero)
    return hero
