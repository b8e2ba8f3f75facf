"""The API's commands typed once for the three kinds of table: a DataFrame, a Dataset or records
in, the same kind out.

Each command's own arguments and keywords (a TypedDict, so that a misspelt one is a type error)
are taken from its implementation's signature; the overloads over the kind of table are written
here once for all of them:

    @by_kind(Scored)
    def score(data: Any, /, c: ConstitutionLike, **kw: Unpack[ScoreCall]) -> Any: ...

    class Session:
        async def ascore(self, data: Any, /, c, **kw: Unpack[ScoreKeywords]) -> Any: ...
        score = sync(ascore, Scored)       # s.score(df, c, ...) -> DataFrame, typed

The record type (Scored above, a dict for most commands) is what a list of records comes back as.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Protocol, TypeVar, overload

from typing_extensions import ParamSpec

P = ParamSpec("P")
Q = ParamSpec("Q")  # a filter's keywords with rejected=True
E = ParamSpec("E")  # ... with rejected=<a bool known only at run time>
T = TypeVar("T")
R = TypeVar("R")  # what a record comes back as: Scored for score, a dict for the others
S = TypeVar("S")
Records = Iterable[Mapping[str, Any]]
Row = dict[str, Any]  # most commands' records come back as rows

if TYPE_CHECKING:
    import datasets
    import pandas as pd


class ByKind(Protocol[P, R]):
    """A command: records in, a list of R out; a DataFrame in, a DataFrame out; a Dataset in, a
    Dataset out."""

    @overload
    def __call__(self, data: Records, /, *args: P.args, **kwargs: P.kwargs) -> list[R]: ...
    @overload
    def __call__(
        self, data: pd.DataFrame, /, *args: P.args, **kwargs: P.kwargs
    ) -> pd.DataFrame: ...
    @overload
    def __call__(
        self, data: datasets.Dataset, /, *args: P.args, **kwargs: P.kwargs
    ) -> datasets.Dataset: ...


def by_kind(record: type[R]) -> Callable[[Callable[Concatenate[Any, P], Any]], ByKind[P, R]]:
    """Type a command written for any table (`data: Any, /` first) as ByKind."""

    def typed(command: Callable[Concatenate[Any, P], Any]) -> ByKind[P, R]:
        return command

    return typed


class Waits(Protocol):
    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any: ...


def _blocking(amethod: Callable[..., Coroutine[Any, Any, Any]], session: Waits | None) -> Any:
    """`amethod` bound to `session`, run on the Session's loop and waited for."""

    def call(*args: Any, **kw: Any) -> Any:
        assert session is not None, "a method of an instance"
        return session._wait(amethod(session, *args, **kw))

    update_wrapper(call, amethod)
    call.__name__ = call.__qualname__ = amethod.__name__.removeprefix("a")
    return call


class blocking(Generic[P, T]):
    """The blocking method of a Session's async one, typed as it: `s.calibrate(...)` runs
    `s.acalibrate(...)` on the Session's loop and waits for it."""

    def __init__(self, amethod: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> None:
        self.amethod = amethod
        self.__doc__ = amethod.__doc__

    def __get__(self, session: Waits | None, owner: type[Any]) -> Callable[P, T]:
        return _blocking(self.amethod, session)


class sync(Generic[P, R]):
    """The blocking method of a Session's async one over a table: `s.score(...)` runs
    `s.ascore(...)` and waits for it, typed by the kind of table given (ByKind)."""

    def __init__(
        self, amethod: Callable[Concatenate[S, Any, P], Awaitable[Any]], record: type[R]
    ) -> None:
        self.amethod: Callable[..., Coroutine[Any, Any, Any]] = amethod  # type: ignore[assignment]
        self.__doc__ = amethod.__doc__

    def __get__(self, session: Waits | None, owner: type[Any]) -> ByKind[P, R]:
        return _blocking(self.amethod, session)  # typed per kind by ByKind


@dataclass(frozen=True)
class Filtered(Generic[T]):
    """What a filter returns with `rejected=True`: the rows it keeps and the rows it does not
    (dropped, or left unjudged), each the kind of table it was given: the CLI's -o FILE and
    --rejected FILE."""

    kept: T
    rejected: T


class Filters(Protocol[P, Q, E, R]):
    """A filter: as ByKind, with `rejected=True` (the keywords Q) a Filtered of the same kind
    of table, and with a bool known only at run time (E) either of the two."""

    @overload
    def __call__(
        self, data: Records, /, *args: Q.args, **kwargs: Q.kwargs
    ) -> Filtered[list[R]]: ...
    @overload
    def __call__(
        self, data: pd.DataFrame, /, *args: Q.args, **kwargs: Q.kwargs
    ) -> Filtered[pd.DataFrame]: ...
    @overload
    def __call__(
        self, data: datasets.Dataset, /, *args: Q.args, **kwargs: Q.kwargs
    ) -> Filtered[datasets.Dataset]: ...
    @overload
    def __call__(self, data: Records, /, *args: P.args, **kwargs: P.kwargs) -> list[R]: ...
    @overload
    def __call__(
        self, data: pd.DataFrame, /, *args: P.args, **kwargs: P.kwargs
    ) -> pd.DataFrame: ...
    @overload
    def __call__(
        self, data: datasets.Dataset, /, *args: P.args, **kwargs: P.kwargs
    ) -> datasets.Dataset: ...
    @overload
    def __call__(
        self, data: Records, /, *args: E.args, **kwargs: E.kwargs
    ) -> list[R] | Filtered[list[R]]: ...
    @overload
    def __call__(
        self, data: pd.DataFrame, /, *args: E.args, **kwargs: E.kwargs
    ) -> pd.DataFrame | Filtered[pd.DataFrame]: ...
    @overload
    def __call__(
        self, data: datasets.Dataset, /, *args: E.args, **kwargs: E.kwargs
    ) -> datasets.Dataset | Filtered[datasets.Dataset]: ...


def filters(
    split: Callable[Concatenate[Any, Q], Any], either: Callable[Concatenate[Any, E], Any]
) -> Callable[[ByKind[P, R] | sync[P, R]], Filters[P, Q, E, R]]:
    """Type a filter (a ByKind command) as Filters, its `rejected=True` keywords read from the
    signature of `split` and its `rejected=<bool>` ones from `either` (declarations: they are
    never called): `@filters(split, either)` above `@by_kind(Row)`, or
    `filter = filters(split, either)(sync(afilter, Row))`."""

    def typed(kept: ByKind[P, R] | sync[P, R]) -> Filters[P, Q, E, R]:
        return kept  # type: ignore[return-value]  # it returns a Filtered when rejected=True

    return typed
