"""Progress reports from long work, with no UI of their own.

Long functions in layers/ take `progress: Progress | None = None` and call it as
`progress("Reading streets", 3, 5)` (what they are doing, the step, how many steps). The app
passes one that moves an `st.progress` bar; the command line one that draws a tqdm bar on a
terminal and stays silent when its output is piped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Progress = Callable[[str, int, int], None]
T = TypeVar("T")


def report(progress: Progress | None, what: str, step: int, total: int) -> None:
    if progress is not None:
        progress(what, step, total)


def each(progress: Progress | None, what: str, items: Iterable[T], total: int, *, every: int = 1) -> Iterator[T]:
    """Yield the items, reporting every `every`th one (and the last) as a step of `total`."""
    n = 0
    for n, item in enumerate(items, start=1):
        if progress is not None and (n % every == 0 or n == total):
            progress(what, n, total)
        yield item
    if progress is not None and n != total:
        progress(what, total, total)
