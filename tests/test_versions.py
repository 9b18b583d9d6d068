"""The SQLAlchemy / pydantic versions a project targets (asyncify_lint/helpers/versions.py), and the
fixes that depend on them."""

from __future__ import annotations

import os
import textwrap

import pytest

from asyncify_lint.config import ConfigError, Settings, load_config
from asyncify_lint.helpers import versions
from asyncify_lint.helpers.versions import TargetVersions, detect, parse_spec, series_allowed
from asyncify_lint.project import Project
from harness import Run


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    """The environment running the tests is the last resort; keep it out unless a test asks."""
    monkeypatch.setattr(versions, "installed", lambda package: None)


def write(root, files: dict[str, str]) -> str:
    for rel, text in files.items():
        path = os.path.join(str(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
    return str(root)


def found(root, settings: Settings | None = None) -> TargetVersions:
    return detect(Project(str(root), settings))


# -- specifiers --------------------------------------------------------------------------------
SA = versions.SQLALCHEMY_SERIES


@pytest.mark.parametrize("spec, series", [
    ("==1.4.54", {(1, 4)}),
    (">=1.4,<2.0", {(1, 4)}),
    (">=1.4, <2", {(1, 4)}),
    ("~=1.4.0", {(1, 4)}),
    ("~=1.4", {(1, 4)}),  # >=1.4, ==1.*
    ("==1.4.*", {(1, 4)}),
    ("<=1.4.46", {(1, 3), (1, 4)}),
    ("^1.4", {(1, 4)}),  # Poetry: >=1.4,<2.0
    ("~1.4", {(1, 4)}),  # Poetry: >=1.4,<1.5
    ("^2.0", {(2, 0), (2, 1)}),
    (">=1.4", {(1, 4), (2, 0), (2, 1)}),
    ("*", set(SA)),
    ("", set(SA)),
    ("1.4.54", {(1, 4)}),  # Poetry: a bare version is exact
    ("^1.4 || ^2.0", {(1, 4), (2, 0), (2, 1)}),
    (">=2.0.0b1,<2.1", {(2, 0)}),
])
def test_series_of_a_specifier(spec, series):
    parsed = parse_spec(spec)
    assert parsed is not None
    assert series_allowed(parsed, SA) == series


def test_pydantic_series():
    assert series_allowed(parse_spec("<2"), versions.PYDANTIC_SERIES) == {(1,)}  # type: ignore[arg-type]
    assert series_allowed(parse_spec(">=1.10,<3"), versions.PYDANTIC_SERIES) == {(1,), (2,)}  # type: ignore[arg-type]
    assert series_allowed(parse_spec("^1.10.2"), versions.PYDANTIC_SERIES) == {(1,)}  # type: ignore[arg-type]


# -- declared dependencies -------------------------------------------------------------------
def test_requirements_pins(tmp_path):
    write(tmp_path, {"requirements.txt": """\
        fastapi==0.95.2
        SQLAlchemy[asyncio]==1.4.54 ; python_version >= "3.8"  # pinned
        pydantic==1.10.13
        """})
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)
    assert v.sqlalchemy_1x and v.pydantic_v1
    assert v.sqlalchemy_source == "requirements.txt"


def test_requirements_ranges_and_includes(tmp_path):
    write(tmp_path, {
        "requirements.txt": "-r requirements/base.txt\nuvicorn\n",
        "requirements/base.txt": "sqlalchemy>=1.4,<2.0\n-c constraints.txt\n",
        "requirements/constraints.txt": "pydantic<2\n",
    })
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)


def test_requirements_range_open_upwards_is_the_newest(tmp_path):
    write(tmp_path, {"requirements-prod.txt": "sqlalchemy>=1.4\npydantic>=1.10\n"})
    assert (found(tmp_path).sqlalchemy, found(tmp_path).pydantic) == ((2, 1), 2)


def test_pyproject_pep621(tmp_path):
    write(tmp_path, {"pyproject.toml": """\
        [project]
        name = "app"
        dependencies = ["sqlalchemy[asyncio] ~= 1.4.0", "pydantic (>=1.10,<2)"]
        """})
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)
    assert v.sqlalchemy_source == "pyproject.toml"


def test_pyproject_poetry(tmp_path):
    write(tmp_path, {"pyproject.toml": """\
        [tool.poetry.dependencies]
        python = "^3.10"
        SQLAlchemy = {version = "^1.4.41", extras = ["asyncio"]}
        pydantic = "^1.10"
        """})
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)


def test_setup_cfg_and_pipfile(tmp_path):
    write(tmp_path, {
        "setup.cfg": "[options]\ninstall_requires =\n    sqlalchemy<2\n",
        "Pipfile": '[packages]\npydantic = "==1.*"\nfastapi = "*"\n',
    })
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)


def test_implied_by_other_pins(tmp_path):
    """FastAPI before 0.100 needs pydantic 1; SQLModel before 0.0.12 SQLAlchemy 1.4."""
    write(tmp_path, {"requirements.txt": "fastapi==0.95.2\nsqlmodel==0.0.8\n"})
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)
    write(tmp_path, {"requirements.txt": "fastapi>=0.95\nsqlmodel>=0.0.8\n"})
    assert found(tmp_path) == TargetVersions()


# -- lock files --------------------------------------------------------------------------------
def test_poetry_lock_wins_over_the_range(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[tool.poetry.dependencies]\nsqlalchemy = ">=1.4"\npydantic = ">=1.8"\n',
        "poetry.lock": """\
            [[package]]
            name = "SQLAlchemy"
            version = "1.4.54"

            [[package]]
            name = "pydantic"
            version = "1.10.13"
            """,
    })
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)
    assert v.sqlalchemy_source == "poetry.lock"


def test_uv_lock(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[project]\nname = "app"\ndependencies = ["sqlalchemy", "pydantic"]\n',
        "uv.lock": """\
            version = 1

            [[package]]
            name = "sqlalchemy"
            version = "2.0.36"
            source = { registry = "https://pypi.org/simple" }

            [[package]]
            name = "pydantic"
            version = "1.10.18"
            source = { registry = "https://pypi.org/simple" }
            """,
    })
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((2, 0), 1)
    assert v.sqlalchemy_source == "uv.lock"


def test_pipfile_lock_and_pdm_lock(tmp_path):
    write(tmp_path, {
        "Pipfile.lock": '{"_meta": {}, "default": {"sqlalchemy": {"version": "==1.4.49"}}, "develop": {}}',
        "pdm.lock": '[[package]]\nname = "pydantic"\nversion = "1.10.2"\n',
    })
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)


def test_unreadable_files_are_skipped(tmp_path):
    write(tmp_path, {"pyproject.toml": "[project\n", "poetry.lock": "not toml [", "Pipfile.lock": "{",
                     "requirements.txt": "sqlalchemy<2\n"})
    assert found(tmp_path).sqlalchemy == (1, 4)


# -- code signals ------------------------------------------------------------------------------
def test_code_signals_pydantic_1(tmp_path):
    write(tmp_path, {"app/schemas.py": """\
        from pydantic import BaseModel

        class UserOut(BaseModel):
            name: str

            class Config:
                orm_mode = True
        """})
    v = found(tmp_path)
    assert v.pydantic == 1 and v.pydantic_source == "code"
    assert v.sqlalchemy is None


def test_code_signals_pydantic_2_wins_over_deprecated_v1_spellings(tmp_path):
    """pydantic 1 APIs still run (deprecated) on 2; a pydantic 2 API cannot run on 1."""
    write(tmp_path, {"app/schemas.py": """\
        from pydantic import BaseModel, ConfigDict

        class UserOut(BaseModel):
            model_config = ConfigDict(from_attributes=True)

        class Legacy(BaseModel):
            class Config:
                orm_mode = True
        """})
    assert found(tmp_path).pydantic == 2


def test_code_signals_sqlalchemy_2(tmp_path):
    write(tmp_path, {"app/models.py": """\
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass
        """})
    assert found(tmp_path).sqlalchemy == (2, 1)


def test_dict_calls_are_not_a_pydantic_1_signal(tmp_path):
    write(tmp_path, {"app/crud.py": "def f(item):\n    return item.dict()\n"})
    assert found(tmp_path).pydantic is None


# -- precedence ----------------------------------------------------------------------------------
def test_configuration_wins(tmp_path):
    write(tmp_path, {"poetry.lock": '[[package]]\nname = "sqlalchemy"\nversion = "2.0.1"\n',
                     "app.py": "from sqlalchemy.orm import mapped_column\nclass C:\n    orm_mode = True\n"})
    v = found(tmp_path, Settings(target_sqlalchemy="1.4", target_pydantic="2"))
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 2)
    assert v.sqlalchemy_source == "configuration"


def test_lock_wins_over_code(tmp_path):
    write(tmp_path, {"poetry.lock": '[[package]]\nname = "pydantic"\nversion = "1.10.2"\n',
                     "app.py": "from pydantic import ConfigDict\n"})
    assert found(tmp_path).pydantic == 1


def test_declared_wins_over_code_and_code_narrows_a_range(tmp_path):
    write(tmp_path, {"requirements.txt": "sqlalchemy<2\npydantic>=1.10\n",
                     "app.py": "from sqlalchemy.orm import mapped_column\nclass C:\n    class Config:\n        orm_mode = True\n"})
    v = found(tmp_path)
    assert v.sqlalchemy == (1, 4)  # the code's 2.0 API contradicts the pin: the pin wins
    assert v.pydantic == 1 and v.pydantic_source == "requirements.txt, code"


def test_environment_is_the_last_resort(tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "installed", {"sqlalchemy": (1, 4, 54), "pydantic": (2, 5, 0)}.get)
    write(tmp_path, {"requirements.txt": "pydantic<2\n"})
    v = found(tmp_path)
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 1)
    assert (v.sqlalchemy_source, v.pydantic_source) == ("installed", "requirements.txt")


def test_parent_directories_up_to_the_repository_root(tmp_path):
    write(tmp_path, {
        "requirements.txt": "sqlalchemy==2.0.30\n",  # outside the repository: never read
        "repo/.git/HEAD": "ref: refs/heads/main\n",
        "repo/requirements.txt": "sqlalchemy<2\npydantic<2\n",
        "repo/server/pyproject.toml": '[project]\nname = "server"\ndependencies = ["pydantic>=2"]\n',
        "repo/server/app/main.py": "",
    })
    v = found(tmp_path / "repo" / "server")
    assert (v.sqlalchemy, v.pydantic) == ((1, 4), 2)  # the nearest directory decides first
    assert versions.search_dirs(str(tmp_path / "repo" / "server")) == [
        str(tmp_path / "repo" / "server"), str(tmp_path / "repo")]
    # without a repository root, only the project root
    assert versions.search_dirs(str(tmp_path)) == [str(tmp_path)]


def test_computed_once_per_project(tmp_path, monkeypatch):
    write(tmp_path, {"requirements.txt": "sqlalchemy<2\n"})
    project = Project(str(tmp_path))
    calls = []
    real = versions.detect
    monkeypatch.setattr(versions, "detect", lambda *a: calls.append(a) or real(*a))
    assert project.versions is project.versions
    assert len(calls) == 1


# -- configuration -----------------------------------------------------------------------------
def test_config_keys(tmp_path):
    write(tmp_path, {"pyproject.toml": '[tool.asyncify-lint]\ntarget-sqlalchemy = 1.4\ntarget_pydantic = "1"\n'})
    s = load_config(str(tmp_path))
    assert (s.target_sqlalchemy, s.target_pydantic) == ("1.4", "1")
    write(tmp_path, {"pyproject.toml": "", "setup.cfg": "[asyncify_lint]\ntarget-sqlalchemy = 2.0\n"})
    assert load_config(str(tmp_path)).target_sqlalchemy == "2.0"


@pytest.mark.parametrize("line", ['target-sqlalchemy = "latest"', 'target-pydantic = "1.10"',
                                  "target-pydantic = true", 'target-sqlalchemy = "3.0"'])
def test_config_keys_rejected(tmp_path, line):
    write(tmp_path, {"pyproject.toml": f"[tool.asyncify-lint]\n{line}\n"})
    with pytest.raises(ConfigError, match="target"):
        load_config(str(tmp_path))


# -- the fixes, from detection rather than the fixture header -------------------------------------
SESSION_MODULE = """\
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import sessionmaker

engine = create_async_engine("sqlite+aiosqlite://")
SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)
"""


def test_sessionmaker_fix_follows_the_requirements(tmp_path):
    run = Run(str(tmp_path / "a"), SESSION_MODULE, ["AFY202"], True, extra={"requirements.txt": "sqlalchemy~=1.4.0\n"})
    fixed, _ = run.fix()
    assert "SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine, class_=AsyncSession)" in fixed
    assert "from sqlalchemy.ext.asyncio import create_async_engine, AsyncSession" in fixed
    assert "async_sessionmaker" not in fixed
    run = Run(str(tmp_path / "b"), SESSION_MODULE, ["AFY202"], True, extra={"requirements.txt": "sqlalchemy~=2.0\n"})
    fixed, _ = run.fix()
    assert "SessionLocal = async_sessionmaker(autocommit=False, autoflush=False, bind=engine)" in fixed


def test_engine_driver_follows_the_lock(tmp_path):
    text = 'from sqlalchemy import create_engine\n\nengine = create_engine("postgresql://u@h/db")\n'
    lock = '[[package]]\nname = "sqlalchemy"\nversion = "1.4.54"\n'
    fixed, _ = Run(str(tmp_path / "a"), text, ["AFY201"], True, extra={"poetry.lock": lock}).fix()
    assert 'create_async_engine("postgresql+asyncpg://u@h/db")' in fixed
    fixed, _ = Run(str(tmp_path / "b"), text, ["AFY201"], True).fix()
    assert 'create_async_engine("postgresql+psycopg://u@h/db")' in fixed


def test_no_awaitable_attrs_suggestion_on_sqlalchemy_1_4(tmp_path):
    text = textwrap.dedent("""\
        from sqlalchemy import Column, ForeignKey, Integer
        from sqlalchemy.ext.asyncio import AsyncSession
        from sqlalchemy.orm import declarative_base, relationship

        Base = declarative_base()


        class User(Base):
            __tablename__ = "users"
            id = Column(Integer, primary_key=True)
            items = relationship("Item")


        class Item(Base):
            __tablename__ = "items"
            id = Column(Integer, primary_key=True)
            user_id = Column(Integer, ForeignKey("users.id"))


        async def ids(db: AsyncSession, user: User):
            return [i.id for i in user.items]
        """)
    diags, _, _ = Run(str(tmp_path / "a"), text, ["AFY206"], targets={"target_sqlalchemy": "1.4"}).check()
    assert len(diags) == 1 and "awaitable_attrs" not in diags[0].message and "refresh(user" in diags[0].message
    diags, _, _ = Run(str(tmp_path / "b"), text, ["AFY206"], targets={"target_sqlalchemy": "2.0"}).check()
    assert len(diags) == 1 and "awaitable_attrs" in diags[0].message


# -- fastapi-pagination: which function takes an AsyncSession -------------------------------------
@pytest.mark.parametrize("files, series, api", [
    ({"poetry.lock": '[[package]]\nname = "fastapi-pagination"\nversion = "0.12.17"\n'}, (0, 12), "paginate"),
    ({"requirements.txt": "fastapi_pagination==0.13.2\n"}, (0, 13), "apaginate"),
    ({"requirements.txt": "fastapi-pagination>=0.12\n"}, (0, 13), "apaginate"),  # the newest series left
    ({"requirements.txt": "fastapi-pagination<0.12\n"}, (0, 11), None),
    ({"requirements.txt": "fastapi-pagination==0.9.3\n"}, (0, 9), None),
    ({"requirements.txt": "fastapi\n"}, None, None),
])
def test_fastapi_pagination(tmp_path, files, series, api):
    v = found(write(tmp_path, files))
    assert (v.fastapi_pagination, v.async_paginate) == (series, api)


def test_fastapi_pagination_configuration(tmp_path):
    write(tmp_path, {"pyproject.toml": '[tool.asyncify-lint]\ntarget-fastapi-pagination = "0.12"\n',
                     "requirements.txt": "fastapi-pagination==0.13.2\n"})
    assert found(tmp_path, load_config(str(tmp_path))).async_paginate == "paginate"
    write(tmp_path, {"pyproject.toml": '[tool.asyncify-lint]\ntarget-fastapi-pagination = "1"\n'})
    with pytest.raises(ConfigError, match="target-fastapi-pagination"):
        load_config(str(tmp_path))


def test_paginate_fix_follows_the_lock(tmp_path):
    text = textwrap.dedent("""\
        from fastapi_pagination.ext.sqlalchemy import paginate
        from sqlalchemy.ext.asyncio import AsyncSession


        async def page(db: AsyncSession, stmt):
            return paginate(db, stmt)
        """)
    lock = '[[package]]\nname = "fastapi-pagination"\nversion = "{}"\n'
    fixed, _ = Run(str(tmp_path / "a"), text, ["AFY203"], extra={"poetry.lock": lock.format("0.12.17")}).fix()
    assert "return await paginate(db, stmt)" in fixed
    fixed, _ = Run(str(tmp_path / "b"), text, ["AFY203"], extra={"poetry.lock": lock.format("0.14.3")}).fix()
    assert "return await apaginate(db, stmt)" in fixed
    assert "from fastapi_pagination.ext.sqlalchemy import apaginate\n" in fixed  # `paginate` left unused
    fixed, _ = Run(str(tmp_path / "c"), text, ["AFY203"]).fix()
    assert fixed == text
