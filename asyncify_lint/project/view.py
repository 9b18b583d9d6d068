"""A module's view of the project (``ModuleView``): what its parsed context asks of the other modules,
recorded for the caches. ``Project`` (project/__init__.py) makes one for each context it parses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncify_lint.engine.context import FileContext


class ModuleView:
    """The project as one module's parsed context sees it: the same answers, and every other module
    that context asks about recorded in the project's read graph (``Project.reads``). A summary that
    consulted this module for a type then depends on every module that answer could have been made of
    (``Project.read_closure``), memoised answers included: the cache re-checks them all."""

    __slots__ = ("_project", "_reads", "_hard", "_soft")

    def __init__(self, project, module: str | None) -> None:  # project: the Project
        self._project = project
        self._reads = project.reads.setdefault(module or "", set())
        #: for the results cache (project/deps.py): the modules whose tree this context read, and the
        #: questions about names of other modules it asked (checked again by asking them again)
        self._hard = project.hard_reads.setdefault(module or "", set())
        self._soft = project.soft_reads.setdefault(module or "", set())

    def _note(self, qualname: str) -> None:
        mod = self._project.module_prefix(qualname)
        if mod is not None:
            self._reads.add(mod)

    def module_context(self, module: str) -> "FileContext | None":
        self._reads.add(module)
        self._hard.add(module)
        return self._project.module_context(module)

    def resolve_reexport(self, qualname: str, _depth: int = 0) -> str:
        self._note(qualname)
        self._soft.add(("resolve_reexport", (qualname, _depth)))
        return self._project.resolve_reexport(qualname, _depth)

    def type_of_qualname(self, qualname: str, _depth: int = 0) -> str | None:
        self._note(qualname)
        self._soft.add(("type_of_qualname", (qualname, _depth)))
        return self._project.type_of_qualname(qualname, _depth)

    def class_attribute_type(self, qualname: str, attr: str) -> str | None:
        self._note(qualname)
        self._soft.add(("class_attribute_type", (qualname, attr)))
        return self._project.class_attribute_type(qualname, attr)

    def type_alias(self, qualname: str) -> str | None:
        self._note(qualname)
        self._soft.add(("type_alias", (qualname,)))
        return self._project.type_alias(qualname)

    def function_def(self, qualname: str):
        self._note(qualname)
        mod = self._project.module_prefix(qualname)
        if mod is not None:
            self._hard.add(mod)
        return self._project.function_def(qualname)

    def __getattr__(self, name: str):
        return getattr(self._project, name)
