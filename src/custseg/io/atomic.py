"""Atomic output: a file or a run directory appears complete, or not at all.

:func:`atomic_file` and :func:`atomic_write_file` write a file beside its
target under a hidden temporary name and rename it into place.
:func:`atomic_output_dir` builds a run directory the same way, so a killed or
failed run never leaves a half-written directory behind and an old run is
replaced only by a complete new one; the temporary directories of killed runs
are cleaned up on the next run (:func:`pid_alive`). :func:`check_output_dir`
runs its checks early, before a long computation. Failures raise
:class:`~custseg.errors.OutputError`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import OutputError
from .sources import PathLike

__all__ = ["atomic_file", "atomic_write_file", "check_output_dir", "atomic_output_dir", "pid_alive"]

# -------------------------------------------------------------------- atomic files

_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def _output_error(path: Path, exc: OSError, inner: str | None = None) -> OutputError:
    """One-line OutputError for an OS failure while writing ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = errno.errorcode.get(exc.errno or 0)
    if code:
        reason += f" [{code}]"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "free some disk space, or write the output to a disk with room"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        fix = f"check that you may write to {path.parent}, or write the output elsewhere"
    elif exc.errno == errno.EROFS:
        fix = "write the output to a writable disk"
    else:
        fix = "check the path, or write the output elsewhere"
    where = f"{path} (file {inner})" if inner else f"{path}"
    error = OutputError(f"cannot write {where}: {reason}", fix=fix)
    error.path = path  # type: ignore[attr-defined]
    return error


def _temp_name(name: str, kind: str) -> str:
    return f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _claim_temporary(target: Path, kind: str, create: Callable[[Path], None]) -> Path:
    """A new hidden path beside ``target``, made by ``create`` (which must fail if it exists)."""
    while True:
        temporary = target.with_name(_temp_name(target.name, kind))
        try:
            create(temporary)
            return temporary
        except FileExistsError:
            continue
        except OSError as exc:
            raise _output_error(target, exc) from exc


def _new_file(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(path, exc) from exc


@contextlib.contextmanager
def atomic_file(path: PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    The temporary file (``.{name}.tmp-{pid}-{random}``, created empty) is in the
    same directory, so the final ``os.replace`` is atomic: readers see the old
    file or the complete new one, never a partial one. On any exception the
    temporary file is removed and the exception re-raised (an ``OSError`` from
    writing as :class:`OutputError`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace. Missing parent directories are created.
    overwrite : bool, default True
        If False and ``path`` exists, raise :class:`OutputError`.

    Yields
    ------
    pathlib.Path
        Where to write the content.
    """
    target = Path(path)
    if not overwrite and (target.exists() or target.is_symlink()):
        raise OutputError(f"{target} already exists", fix="remove it, or choose another name")
    _make_parent(target)
    temporary = _claim_temporary(target, "tmp", _new_file)
    try:
        yield temporary
        _fsync(temporary)
        if overwrite:
            os.replace(temporary, target)
        else:
            _link_new(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(exc, OSError) and _is_write_failure(exc, temporary):
            raise _output_error(target, exc) from exc
        raise


def _link_new(temporary: Path, target: Path) -> None:
    """Move ``temporary`` to ``target`` without ever replacing an existing file."""
    try:
        os.link(temporary, target)  # fails if target exists, atomically
    except FileExistsError:
        raise OutputError(f"{target} already exists", fix="remove it, or choose another name") from None
    except OSError:  # no hard links on this file system
        if target.exists():
            raise OutputError(f"{target} already exists", fix="remove it, or choose another name") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def atomic_write_file(path: PathLike, data: bytes | str, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace.
    data : bytes or str
        The content; a ``str`` is encoded as UTF-8 and written verbatim
        (no newline translation).
    overwrite : bool, default True
        If False and ``path`` exists, raise :class:`OutputError`.

    Raises
    ------
    OutputError
        The file exists (``overwrite=False``) or cannot be written.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_file(path, overwrite=overwrite) as temporary:
        temporary.write_bytes(payload)


def _is_write_failure(exc: OSError, temporary: Path) -> bool:
    """Whether an OSError came from writing the output (not, say, reading an input)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
        return True
    names = [name for name in (exc.filename, exc.filename2) if name is not None]
    if not names:
        return exc.errno in _WRITE_ERRNOS or exc.errno is None
    return any(_inside(Path(os.fsdecode(name)), temporary) for name in names)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.absolute().relative_to(root.absolute())
    except ValueError:
        return False
    return True


# --------------------------------------------------------------- atomic run folder


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on this machine). Unknown counts as alive."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _clean_stale(target: Path) -> None:
    """Remove ``.{name}.partial-*`` / ``.{name}.old-*`` left by dead processes.

    If a run died between moving the old directory aside and moving the new one
    in, the target is missing: the old directory is put back instead.
    """
    parent, name = target.parent, target.name
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    for kind in ("old", "partial"):
        prefix = f".{name}.{kind}-"
        for entry in entries:
            if not entry.name.startswith(prefix):
                continue
            pid_text = entry.name[len(prefix) :].split("-", 1)[0]
            if not pid_text.isdigit() or pid_alive(int(pid_text)):
                continue
            if kind == "old" and not (target.exists() or target.is_symlink()):
                with contextlib.suppress(OSError):  # if it fails, leave it be
                    os.rename(entry, target)
                continue
            _remove_tree(entry)


def _is_empty_dir(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        return next(os.scandir(path), None) is None
    except OSError:
        return False


def check_output_dir(path: PathLike, *, overwrite: bool = False) -> None:
    """Fail early, before a long run, if :func:`atomic_output_dir` would refuse ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The intended run directory.
    overwrite : bool, default False
        Whether an existing non-empty directory (or file) may be replaced.

    Raises
    ------
    OutputError
        ``path`` has no name, exists and is not empty (without ``overwrite``),
        or sits below a file.
    """
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise OutputError(f"output directory {str(path)!r} has no name", fix="pass --out with a new folder")
    exists = target.exists() or target.is_symlink()
    if exists and not overwrite and not _is_empty_dir(target):
        raise _exists_error(target)
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(
                    f"cannot create output directory {target}: {parent} is a file",
                    fix="choose another --out",
                )
            break


def _exists_error(target: Path) -> OutputError:
    what = "is a file" if target.is_file() else "already exists and is not empty"
    return OutputError(
        f"output directory {target} {what}",
        fix="pass --overwrite to replace it, or choose another --out",
    )


@contextlib.contextmanager
def atomic_output_dir(path: PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a run directory under a temporary name; move it into place on success.

    On entry the stale temporary directories of killed runs are removed, and a
    hidden ``.{name}.partial-{pid}-{random}`` directory is created beside
    ``path`` (same file system, so the final rename is atomic). On normal exit
    an existing ``path`` (``overwrite=True``) is moved aside to
    ``.{name}.old-{pid}-{random}``, the new directory renamed to ``path`` and
    the old one deleted: the old run is replaced only by a complete new one.
    On any exception (including ``KeyboardInterrupt``) the temporary directory
    is removed and the exception re-raised; an ``OSError`` from writing
    (disk full, permission denied) becomes :class:`OutputError`.

    Parameters
    ----------
    path : str or os.PathLike
        The run directory. Missing parent directories are created. An empty
        existing directory is replaced without ``overwrite``.
    overwrite : bool, default False
        Replace an existing non-empty directory (or file) at ``path``.

    Yields
    ------
    pathlib.Path
        The temporary directory to write the run into.

    Raises
    ------
    OutputError
        ``path`` exists and is not empty (without ``overwrite``), or the
        directory cannot be created or written.

    Notes
    -----
    Staleness is judged with ``os.kill(pid, 0)`` on this machine. On a folder
    shared between machines, a run still going on elsewhere can lose its
    temporary directory if its pid is unused here. On Windows nothing is
    treated as stale.
    """
    target = Path(path)
    check_output_dir(target, overwrite=True)  # a name, and no file in the way
    _make_parent(target)
    _clean_stale(target)
    check_output_dir(target, overwrite=overwrite)
    temporary = _claim_temporary(target, "partial", os.mkdir)
    try:
        yield temporary
    except BaseException as exc:
        _remove_tree(temporary)
        # An OSError from writing, raw or already wrapped by atomic_file inside
        # the temporary directory: report it against the real target.
        cause: BaseException | None = exc
        if isinstance(exc, OutputError) and hasattr(exc, "path"):
            cause = exc.__cause__
        if isinstance(cause, OSError) and _is_write_failure(cause, temporary):
            # atomic_file records the real name; the OSError may carry its temporary name
            name = getattr(exc, "path", None) or cause.filename
            raise _output_error(target, cause, _relative_inside(name, temporary)) from cause
        raise
    try:
        _install(temporary, target, overwrite)
    except OutputError:
        _remove_tree(temporary)
        raise
    except OSError as exc:
        _remove_tree(temporary)
        raise _output_error(target, exc) from exc


def _relative_inside(name: Any, root: Path) -> str | None:
    """``name`` relative to ``root`` if it is a path strictly inside it, else None."""
    if name is None:
        return None
    path = Path(os.fsdecode(name))
    if not _inside(path, root):
        return None
    relative = str(path.absolute().relative_to(root.absolute()))
    return None if relative == "." else relative


def _install(temporary: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished ``temporary`` directory to ``target``."""
    if not (target.exists() or target.is_symlink()) or _is_empty_dir(target):
        try:
            os.replace(temporary, target)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                # Something appeared at the target while the run was writing.
                raise _exists_error(target) from exc
            raise
        return
    if not overwrite:
        raise _exists_error(target)
    old = target.with_name(_temp_name(target.name, "old"))
    os.rename(target, old)
    try:
        os.rename(temporary, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove_tree(old)
