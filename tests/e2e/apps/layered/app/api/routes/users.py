from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy.orm import Session

from app.api.deps import CurrentUser, SessionDep, get_db
from app.repositories import users as user_repo
from app.schemas.user import UserCreate, UserRead, UserUpdate
from app.services import users as user_service

router = APIRouter(prefix="/users", tags=["users"])


@router.post("/", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def register_user(data: UserCreate, db: Session = Depends(get_db)):
    try:
        return user_service.register(db, data)
    except user_service.EmailAlreadyRegistered:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail="Email already registered")


@router.get("/", response_model=list[UserRead])
def list_users(db: SessionDep, skip: int = 0, limit: int = 50):
    return user_service.list_users(db, skip=skip, limit=limit)


@router.get("/me", response_model=UserRead)
def read_me(current_user: CurrentUser):
    return current_user


@router.patch("/me", response_model=UserRead)
def update_me(data: UserUpdate, db: SessionDep, current_user: CurrentUser):
    return user_service.update_profile(db, current_user, data)


@router.get("/{user_id}", response_model=UserRead)
def read_user(user_id: int, db: SessionDep):
    user = user_repo.get(db, user_id)
    if user is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="User not found")
    return user
