"""Progress for a person at a terminal: the stage of a long command, or a bar of its chunks.

Drawn on standard error with rich, transient (erased when done, so the table printed next
stays clean), and only when standard error is a terminal and the command was not given
``--quiet``: piped output and logs never see it.  The engine reports progress through plain
callbacks (``stage(text)``, ``progress(done, total)``) and never imports this module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def shown(quiet: bool = False) -> bool:
    """Whether progress is drawn: standard error is a terminal and not ``quiet``."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def stages(first: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A status line on standard error (a spinner and the stage's text) while the block runs;
    yields ``stage(text)``, which names the next stage.  Yields a callback that does nothing
    when progress is not :func:`shown`."""
    if not shown(quiet):
        yield lambda text: None
        return
    from rich.console import Console

    with Console(stderr=True).status(first) as status:
        yield lambda text: status.update(text)


@contextmanager
def bar(label: str, quiet: bool = False) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on standard error while the block runs; yields ``progress(done,
    total)``, or None when progress is not :func:`shown`."""
    if not shown(quiet):
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)
