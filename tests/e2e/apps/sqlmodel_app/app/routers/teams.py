from fastapi import APIRouter, HTTPException, Query
from sqlmodel import func, select

from ..database import SessionDep
from ..models import Hero, HeroTeamLink, Team, TeamCreate, TeamPublic, TeamPublicWithHeroes, TeamStats, TeamUpdate

router = APIRouter(prefix="/teams", tags=["teams"])


@router.post("/", response_model=TeamPublic)
def create_team(team: TeamCreate, session: SessionDep):
    db_team = Team.model_validate(team)
    session.add(db_team)
    session.commit()
    session.refresh(db_team)
    return db_team


@router.get("/", response_model=list[TeamPublic])
def read_teams(session: SessionDep, offset: int = 0, limit: int = Query(default=100, le=100)):
    teams = session.exec(select(Team).order_by(Team.id).offset(offset).limit(limit)).all()
    return teams


@router.get("/{team_id}", response_model=TeamPublicWithHeroes)
def read_team(team_id: int, session: SessionDep):
    team = session.get(Team, team_id)
    if not team:
        raise HTTPException(status_code=404, detail="Team not found")
    return team


@router.get("/{team_id}/stats", response_model=TeamStats)
def read_team_stats(team_id: int, session: SessionDep):
    if not session.get(Team, team_id):
        raise HTTPException(status_code=404, detail="Team not found")
    hero_count, average_age = session.exec(
        select(func.count(Hero.id), func.avg(Hero.age))
        .join(HeroTeamLink, HeroTeamLink.hero_id == Hero.id)
        .where(HeroTeamLink.team_id == team_id)
    ).one()
    return TeamStats(team_id=team_id, hero_count=hero_count, average_age=average_age)


@router.patch("/{team_id}", response_model=TeamPublic)
def update_team(team_id: int, team: TeamUpdate, session: SessionDep):
    db_team = session.get(Team, team_id)
    if not db_team:
        raise HTTPException(status_code=404, detail="Team not found")
    db_team.sqlmodel_update(team.model_dump(exclude_unset=True))
    session.add(db_team)
    session.commit()
    session.refresh(db_team)
    return db_team


@router.delete("/{team_id}")
def delete_team(team_id: int, session: SessionDep):
    team = session.get(Team, team_id)
    if not team:
        raise HTTPException(status_code=404, detail="Team not found")
    session.delete(team)
    session.commit()
    return {"ok": True}
