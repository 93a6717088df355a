"""`cloudfauj apply --watch`: apply the files once, then again each time one of them changes.

Files are watched through their directories (watchfiles: inotify, FSEvents, ...), because editors save by
writing a new file and renaming it over the old one, which a watch on the file itself would lose. Changes
are debounced (`DEBOUNCE_MS`): one save, or a `git checkout` of several files, is one apply.

While watching, a failed apply is reported, never the end: an invalid file is said as apply says it
(`Error: web.yml, line 4: ...`) and the next save is applied again; a deployment that fails is printed
with its reason. Ctrl-C, at any moment, stops watching and exits 0.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
import watchfiles

from cloudfauj.cli.commands.common import EXIT_CODES, INTERRUPTED, InputError, error_lines
from cloudfauj.cli.output import notice

__all__ = ["DEBOUNCE_MS", "watch_files"]

DEBOUNCE_MS = 400  # changes this close together are one change
MANIFEST_SUFFIXES = (".yml", ".yaml")


def watch_files(files: list[str], apply_once: Callable[[], int]) -> int:
    """Run `apply_once` now and after each change to `files` (files or directories) until Ctrl-C: 0."""
    wanted_files, wanted_dirs = _targets(files)
    roots = sorted({p.parent for p in wanted_files} | wanted_dirs)

    def relevant(_: watchfiles.Change, path: str) -> bool:
        p = Path(path)
        return p in wanted_files or (p.parent in wanted_dirs and p.suffix in MANIFEST_SUFFIXES)

    try:
        _attempt(apply_once)
        notice(f"Watching {', '.join(files)} for changes (Ctrl-C to stop).")
        for changes in watchfiles.watch(*roots, watch_filter=relevant, debounce=DEBOUNCE_MS, recursive=False):
            changed = sorted({Path(path).name for _, path in changes})
            notice(f"Changed: {', '.join(changed)}; applying again.")
            _attempt(apply_once)
            notice("Watching for changes (Ctrl-C to stop).")
    except KeyboardInterrupt:
        pass
    notice("Stopped watching.")
    return 0


def _targets(files: list[str]) -> tuple[set[Path], set[Path]]:
    wanted_files: set[Path] = set()
    wanted_dirs: set[Path] = set()
    for given in files:
        if given == "-":
            raise InputError("--watch watches files; it cannot watch stdin (-f -).")
        path = Path(given).absolute()
        if path.is_dir():
            wanted_dirs.add(path)
        elif path.parent.is_dir():
            wanted_files.add(path)
        else:
            raise InputError(f"Cannot watch {given}: its directory {path.parent} does not exist.")
    return wanted_files, wanted_dirs


def _attempt(apply_once: Callable[[], int]) -> None:
    """One apply; what would end `apply` (invalid input, an unreachable server) is only reported."""
    try:
        code = apply_once()
    except tuple(cls for cls, _ in EXIT_CODES) as e:
        for line in error_lines(e):
            notice(f"Error: {line}")
        return
    except typer.Exit as e:
        if e.exit_code == INTERRUPTED:  # Ctrl-C while following: the user wants to stop watching
            raise KeyboardInterrupt from None
        code = e.exit_code
    if code:
        notice(f"The apply ended with exit code {code}; fix the files and save them to apply again.")
