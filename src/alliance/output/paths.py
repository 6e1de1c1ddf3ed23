"""Checks on an output path before any work: writable, of the right kind, and never an input.

An output that resolves to an input file (through a symlink, a hard link, or ``..``) would
destroy the data it was computed from; an output folder that holds an input at a name the run
writes would replace it. Both are refused, as is an output that cannot be written, before
anything is read: a usage error should not cost a whole analysis.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from alliance.output.transaction import PREFIX, owned_files


class OutputPathError(Exception):
    """``--out`` cannot be used; ``str()`` says why (the command line shows it as a usage error)."""


Inputs = Mapping[str, Path | None]  # option name (DATA for the data argument) -> the path given


def _writable(path: Path, mode: int = os.W_OK | os.X_OK) -> bool:
    # os.access, not a trial write: it answers for read-only mounts too, creates nothing, and
    # is truthful for root, who may write into a folder without write permission.
    return os.access(path, mode)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _given(inputs: Inputs) -> list[tuple[str, Path]]:
    """(how the message names the input, its path) for each input given."""
    return [
        ("the data argument" if option == "DATA" else option, Path(path))
        for option, path in inputs.items()
        if path is not None
    ]


def _writable_ancestor(folder: Path, shown: Path) -> None:
    """``folder`` exists and can be written, or can be created (its nearest ancestor can)."""
    for candidate in [folder, *folder.parents]:
        if os.path.lexists(candidate):
            break
    if not candidate.is_dir():
        raise OutputPathError(
            f"cannot create {shown}: {candidate} is a file, not a folder. "
            "Fix: choose a path in a folder"
        )
    if not _writable(candidate):
        raise OutputPathError(
            f"cannot write in {candidate} (read-only or permission denied). "
            "Fix: choose a folder you can write to"
        )


def _dangling(out: Path) -> None:
    if out.is_symlink() and not out.exists():
        raise OutputPathError(
            f"{out} is a symbolic link to {os.readlink(out)}, which does not exist. "
            "Fix: remove the link or give another path"
        )


def check_output_file(out: Path, inputs: Inputs) -> Path:
    """Check a single-file output; returns the path to write (symlinks resolved).

    Writing to the resolved path keeps a symlink the user made and writes the file it points to.
    """
    out = Path(out)
    _dangling(out)
    target = out.resolve()
    if os.path.lexists(target):
        mode = os.stat(target).st_mode
        if stat.S_ISDIR(mode):
            raise OutputPathError(
                f"{out} is a folder. Fix: give a file name, such as {out / 'scores.csv'}"
            )
        if not stat.S_ISREG(mode):
            raise OutputPathError(
                f"{out} is not a regular file (a device, pipe or socket); alliance replaces "
                "only ordinary files. Fix: give a file name"
            )
        if not _writable(target, os.W_OK):
            raise OutputPathError(f"{out} is read-only. Fix: choose another file name")
    identity = _identity(target)
    for option, path in _given(inputs):
        if path.resolve() == target or (identity and _identity(path) == identity):
            raise OutputPathError(
                f"{out} is the input file given as {option} ({path}); alliance never writes "
                "over its input. Fix: choose another file name"
            )
    _writable_ancestor(target.parent, out)
    return target


def _in_output(folder: Path, path: Path, names: Iterable[str], owned: set[str]) -> str | None:
    """The name inside ``folder`` under which ``path`` would be replaced, or None."""
    reserved = set(names)
    for location in (Path(os.path.abspath(path)), path.resolve()):
        try:
            relative = PurePosixPath(location.relative_to(folder).as_posix())
        except ValueError:
            continue
        if not relative.parts:
            continue
        top = relative.parts[0]
        if relative.as_posix() in owned or top in reserved or top.startswith(PREFIX):
            return relative.as_posix()
    return None


def _owned_identities(folder: Path, names: Iterable[str], owned: set[str]) -> set[tuple[int, int]]:
    """(device, inode) of every file the run would move or replace: hard links to them count."""
    found = set()
    candidates = [folder / name for name in owned]
    for name in names:
        top = folder / name
        candidates.append(top)
        if top.is_dir() and not top.is_symlink():
            candidates += [p for p in top.rglob("*") if p.is_file() and not p.is_symlink()]
    for path in candidates:
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.add((info.st_dev, info.st_ino))
    return found


def check_output_folder(out: Path, inputs: Inputs, names: Iterable[str]) -> Path:
    """Check a folder output; ``names`` are the files and folders the run writes in it.

    Returns the folder's resolved path.
    """
    out = Path(out)
    names = tuple(names)
    _dangling(out)
    folder = out.resolve()
    if os.path.lexists(folder):
        if not folder.is_dir():
            raise OutputPathError(
                f"{out} is a file, not a folder. Fix: give a folder name for the results"
            )
        if not _writable(folder):
            raise OutputPathError(
                f"cannot write in {out} (read-only or permission denied). "
                "Fix: choose a folder you can write to"
            )
    else:
        _writable_ancestor(folder, out)
    given = _given(inputs)
    if not given:
        return folder
    owned = owned_files(folder) if folder.is_dir() else set()
    identities = _owned_identities(folder, names, owned) if folder.is_dir() else set()
    for option, path in given:
        inside = _in_output(folder, path, names, owned)
        if inside is not None or (identities and _identity(path) in identities):
            where = f" as {inside}" if inside else " (a hard link to one of its files)"
            raise OutputPathError(
                f"the input {path} given as {option} lies in the output folder {out}{where}, "
                "which this run replaces. Fix: move the input out of that folder, or choose "
                "another --out"
            )
    return folder
