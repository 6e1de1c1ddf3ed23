"""An output folder written as one transaction: a run's files appear together, or not at all.

``analyze`` and ``demo`` write many files (results, tables, figures, report). Written one by
one into the folder, an interrupted or failed run would leave new results beside an old report,
and a rerun would leave the previous run's figures for models no longer in the plan. Instead:

- **Lock.** ``.alliance-lock`` in the folder is held with ``flock`` for the whole run, so a
  second run into the same folder fails at once (:class:`OutputBusy`). The kernel releases the
  lock when its holder dies, so a crashed run never blocks the next one.
- **Staging.** The run writes into a fresh ``.alliance-staging-*`` folder inside the output
  folder (so on the same file system, and with no need to write beside it).
- **Manifest.** ``.alliance-manifest.json`` lists the files the last run wrote. Those are the
  run's own; every other file in the folder is the user's and is never moved or deleted.
- **Commit.** The previous run's files (and any file at a name the new run writes) are moved
  into a ``.alliance-backup-*`` folder, the new files moved in, and a journal that records this
  is deleted: that is the commit point. The backup is then deleted, so no stale file survives.
  SIGINT and SIGTERM are held back during the commit; one that arrived before the commit point
  rolls the commit back and is then delivered, so an interrupted run leaves the previous output.
  An exception rolls back too. A run killed outright mid-commit (SIGKILL, power cut) leaves the
  journal, and the next run into the folder rolls back from it before doing anything else.

Why the files are moved rather than the folder swapped with a rename: the folder may be a mount
point (a container volume), the user's shell may be inside it, and the user's own files would
have to be carried across. Moving only the run's own files leaves the folder itself, and
everything else in it, alone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from alliance import __version__
from alliance.errors import AllianceError
from alliance.report.files import write_json

PREFIX = ".alliance-"
LOCK = ".alliance-lock"
MANIFEST = ".alliance-manifest.json"
JOURNAL = ".alliance-journal.json"
STAGING = ".alliance-staging-"
BACKUP = ".alliance-backup-"

# What a folder written before manifests existed holds: treated as the run's own if the folder's
# results.json says alliance wrote it.
_LEGACY_FILES = ("results.json", "ledger.csv", "report.html", "tables.docx")
_LEGACY_PATTERNS = ("tables/*.csv", "figures/*.svg", "figures/*.png", "data/demo_*.csv")


class OutputBusy(AllianceError):
    """Another run holds the folder's lock."""

    def __init__(self, folder: Path):
        super().__init__(
            f"{folder}: another alliance run is writing to this folder. "
            "Fix: wait for it to finish, or choose another --out"
        )


class OutputError(AllianceError):
    """The run's files could not be put in place; the previous output was restored."""

    def __init__(self, folder: Path, what: str, fix: str):
        super().__init__(f"{folder}: {what}. Fix: {fix}")


# --------------------------------------------------------------------------- signals


@contextmanager
def deferred_signals(redeliver: bool = True) -> Iterator[list[int]]:
    """Hold back SIGINT and SIGTERM; yields the list of those that arrived meanwhile.

    On leaving, the previous handlers come back and, if ``redeliver``, the held signals are
    raised again (SIGINT then ends the run with ``KeyboardInterrupt`` as usual). Outside the
    main thread, where handlers cannot be set, nothing is held back.
    """
    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    kinds = [signal.SIGINT, signal.SIGTERM]
    previous = {kind: signal.getsignal(kind) for kind in kinds}

    def hold(signum: int, frame: Any) -> None:
        pending.append(signum)

    for kind in kinds:
        signal.signal(kind, hold)
    try:
        yield pending
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
        if redeliver:
            for signum in dict.fromkeys(pending):
                signal.raise_signal(signum)


# --------------------------------------------------------------------------- lock


_held: dict[Path, list[int]] = {}  # folder -> [lock descriptor, nesting depth]


def _lock_file(descriptor: int) -> bool:
    """Take the lock without waiting; False if another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _acquire(folder: Path) -> int:
    path = folder / LOCK
    for _ in range(100):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except FileNotFoundError:  # the folder vanished with a finishing run's cleanup
            continue
        if not _lock_file(descriptor):
            os.close(descriptor)
            raise OutputBusy(folder)
        # A finishing holder deletes the lock file; the file we locked may be that deleted one.
        try:
            if os.path.samestat(os.fstat(descriptor), os.stat(path)):
                return descriptor
        except FileNotFoundError:
            pass
        os.close(descriptor)
    raise OutputBusy(folder)


def _release(folder: Path, descriptor: int) -> None:
    try:
        if sys.platform != "win32":  # Windows cannot delete an open file; it stays, unlocked
            os.unlink(folder / LOCK)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _missing_ancestors(folder: Path) -> list[Path]:
    missing = []
    for candidate in [folder, *folder.parents]:
        if os.path.lexists(candidate):
            break
        missing.append(candidate)
    return missing


@contextmanager
def folder_lock(folder: Path) -> Iterator[Path]:
    """Hold the output folder's lock (creating the folder); re-entrant within one process.

    Yields the folder's resolved path. If the run fails, folders this call created are removed
    again when they are empty, so a failed first run leaves no output at all.
    """
    folder = Path(folder).resolve()
    if folder in _held:
        _held[folder][1] += 1
        try:
            yield folder
        finally:
            _held[folder][1] -= 1
        return
    created = _missing_ancestors(folder)
    try:
        descriptor = _acquire(folder)
    except OSError as exc:
        raise OutputError(
            folder,
            f"the output folder cannot be created or written ({exc.strerror or exc})",
            "choose a folder you can write to with --out",
        ) from None
    _held[folder] = [descriptor, 1]
    succeeded = False
    try:
        yield folder
        succeeded = True
    finally:
        with deferred_signals(redeliver=succeeded):
            del _held[folder]
            _release(folder, descriptor)
            if not succeeded:
                for path in created:  # innermost first
                    try:
                        path.rmdir()
                    except OSError:
                        break


# --------------------------------------------------------------------------- manifest


def _relative(entry: object) -> str | None:
    """A manifest entry as a safe relative path inside the folder, or None."""
    if not isinstance(entry, str) or not entry or "\\" in entry or "\x00" in entry:
        return None
    path = PurePosixPath(entry)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        return None
    if path.parts[0].startswith(PREFIX):
        return None
    return path.as_posix()


def _is_legacy_output(folder: Path) -> bool:
    try:
        with open(folder / "results.json", "rb") as handle:
            document = json.loads(handle.read(64 * 1024 * 1024))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and "alliance_version" in document


def owned_files(folder: Path) -> set[str]:
    """Files (relative POSIX paths) the previous run into ``folder`` wrote and that still exist.

    From the manifest; a folder without one that holds an alliance ``results.json`` is read as
    an output of a version without manifests. A damaged manifest owns nothing (nothing of the
    user's can then be deleted; stale files of that run may stay).
    """
    folder = Path(folder)
    try:
        with open(folder / MANIFEST, "rb") as handle:
            document = json.loads(handle.read(64 * 1024 * 1024))
        entries = document["files"] if isinstance(document, dict) else []
        names = {name for name in map(_relative, entries) if name}
    except FileNotFoundError:
        names = set()
        if _is_legacy_output(folder):
            names.update(_LEGACY_FILES)
            for pattern in _LEGACY_PATTERNS:
                names.update(p.relative_to(folder).as_posix() for p in folder.glob(pattern))
    except (OSError, ValueError, KeyError, TypeError):
        names = set()
    return {name for name in names if os.path.lexists(folder / name)}


def _files_under(root: Path) -> list[str]:
    found = []
    for directory, subfolders, files in os.walk(root):
        base = Path(directory)
        # A symlink to a folder is listed as a folder but is moved as one entry.
        files += [s for s in subfolders if (base / s).is_symlink()]
        found += [(base / name).relative_to(root).as_posix() for name in files]
    return sorted(found)


# --------------------------------------------------------------------------- commit


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _rollback(
    folder: Path, staging: Path, backup: Path, moved_in: list[str], displaced: list[str]
) -> None:
    """Undo a commit: take the new files out again and put the backed-up ones back."""
    for name in moved_in:
        # A file at a displaced name is the old one until that has gone to the backup.
        new_in_place = name not in displaced or os.path.lexists(backup / name)
        if new_in_place and os.path.lexists(folder / name):
            _move(folder / name, staging / name)
    if backup.is_dir():
        for name in _files_under(backup):
            _move(backup / name, folder / name)
    _remove_empty_parents(folder, moved_in)
    _remove_tree(backup)
    _remove_tree(staging)
    (folder / JOURNAL).unlink(missing_ok=True)


def _remove_empty_parents(folder: Path, names: list[str]) -> None:
    """Remove folders of the run's own that the commit left empty (``figures/`` and so on)."""
    parents = {folder / PurePosixPath(n).parent for n in names}
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        while parent != folder:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def recover(folder: Path) -> None:
    """Roll back a commit a killed run left unfinished; remove leftover staging and backups.

    Only called with the folder's lock held, so nothing found here belongs to a live run.
    """
    journal = folder / JOURNAL
    if journal.exists():
        try:
            record = json.loads(journal.read_text(encoding="utf-8"))
            staging = folder / record["staging"]
            backup = folder / record["backup"]
            moved_in = [n for n in map(_relative, record["moved_in"]) if n] + [MANIFEST]
            displaced = [n for n in map(_relative, record["displaced"]) if n]
            displaced += [MANIFEST] * (MANIFEST in record["displaced"])
            if staging.parent != folder or backup.parent != folder:
                raise ValueError("journal points outside the folder")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputError(
                folder,
                f"an interrupted run left a journal that cannot be read ({exc})",
                f"look at the files in this folder, then delete {JOURNAL} and the "
                f"{BACKUP}* folder (it holds the previous output)",
            ) from None
        _rollback(folder, staging, backup, moved_in, displaced)
    for entry in folder.iterdir():
        if entry.name.startswith((STAGING, BACKUP)) and not entry.is_symlink():
            _remove_tree(entry)


def _commit(folder: Path, staging: Path, pending: list[int]) -> None:
    new = _files_under(staging)
    write_json(
        staging / MANIFEST,
        {
            "written_by": f"alliance {__version__}",
            "note": "Files the last alliance run wrote here; the next run into this folder "
            "replaces them and leaves every other file alone.",
            "files": new,
        },
    )
    moved_in = [*new, MANIFEST]
    displaced = sorted(
        name for name in owned_files(folder) | set(moved_in) if os.path.lexists(folder / name)
    )
    for name in displaced:
        if (folder / name).is_dir() and not (folder / name).is_symlink():
            raise OutputError(
                folder,
                f"'{name}' is a folder, where this run writes a file",
                "move that folder elsewhere, or choose another --out",
            )
    backup = Path(tempfile.mkdtemp(prefix=BACKUP, dir=folder))
    try:
        write_json(
            folder / JOURNAL,
            {
                "staging": staging.name,
                "backup": backup.name,
                "moved_in": new,
                "displaced": displaced,
            },
        )
        for name in displaced:
            _move(folder / name, backup / name)
        for name in moved_in:
            _move(staging / name, folder / name)
        if pending:  # interrupted before the commit point: the previous output stays
            raise KeyboardInterrupt
        (folder / JOURNAL).unlink()  # the commit point
    except BaseException as exc:
        _rollback(folder, staging, backup, moved_in, displaced)
        if isinstance(exc, KeyboardInterrupt) and pending:
            return
        if isinstance(exc, OSError):
            raise OutputError(
                folder,
                f"the results could not be put in place ({exc}); the previous output was kept",
                "check the folder's permissions and free space",
            ) from None
        raise
    _remove_empty_parents(folder, [n for n in displaced if n not in moved_in])
    _remove_tree(backup)


@contextmanager
def output_transaction(out: Path) -> Iterator[Path]:
    """Write an output folder as a whole: yields a staging folder to write into.

    When the ``with`` block ends normally, what was written replaces the run's previous files
    in ``out`` (see the module notes); if it raises, ``out`` is left as it was.
    """
    with folder_lock(out) as folder:
        with deferred_signals(redeliver=False) as early:
            recover(folder)
            staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))
        try:
            for signum in early:  # delivered now, where the staging folder is cleaned up
                signal.raise_signal(signum)
            yield staging
            with deferred_signals() as pending:
                _commit(folder, staging, pending)
        except BaseException:
            with deferred_signals(redeliver=False):
                _remove_tree(staging)
            raise
        with deferred_signals():
            _remove_tree(staging)
