"""Safe publishing: where builds and published files live, the build lock, and atomic swaps.

A build never writes the files readers use. It builds into a new DuckDB file under
`target/builds/`, and only when every node passed are the results swapped in with
`os.replace` (see docs/architecture.md, section Serving). A published folder such as
`exports/` is a symlink to one complete version folder under `exports.versions/`; swapping the
symlink is one atomic rename, and old versions stay on disk for readers that still use them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from spendlens.errors import SpendlensError

LOCK_NAME = "spendlens-build.lock"
BUILDS_NAME = "builds"
VERSIONS_SUFFIX = ".versions"
TMP_PREFIX = "tmp-"
# Files a folder may hold to be taken over as a published folder (older, plain exports).
_EXPORT_FILE_SUFFIXES = (".parquet", ".csv", ".duckdb", ".duckdb.wal")


def _resolve(path: str | Path, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


@dataclass(frozen=True)
class Layout:
    """Where a build writes and publishes. Every path can be set by an environment variable."""

    published_db: Path
    exports_dir: Path

    @property
    def target_dir(self) -> Path:
        return self.published_db.parent

    @property
    def builds_dir(self) -> Path:
        return self.target_dir / BUILDS_NAME

    @property
    def lock_path(self) -> Path:
        return self.target_dir / LOCK_NAME


def layout_from_env() -> Layout:
    """Paths from the environment, relative to SPENDLENS_HOME (default: the current folder).

    - published database: SPENDLENS_DB, else SPENDLENS_TARGET_DIR/spendlens.duckdb, else
      target/spendlens.duckdb (the same file plain `dbt build` writes);
    - exports: SPENDLENS_EXPORTS_DIR, else `exports/` beside the database when SPENDLENS_DB or
      SPENDLENS_TARGET_DIR is set (so CI builds of several data sets do not share one folder),
      else exports/.
    """
    home = _resolve(os.environ.get("SPENDLENS_HOME", "."), Path.cwd()).resolve()
    db_env = os.environ.get("SPENDLENS_DB")
    target_env = os.environ.get("SPENDLENS_TARGET_DIR")
    if db_env:
        db = _resolve(db_env, home)
    elif target_env:
        db = _resolve(target_env, home) / "spendlens.duckdb"
    else:
        db = home / "target" / "spendlens.duckdb"
    exports_env = os.environ.get("SPENDLENS_EXPORTS_DIR")
    if exports_env:
        exports = _resolve(exports_env, home)
    elif db_env or target_env:
        exports = db.parent / "exports"
    else:
        exports = home / "exports"
    return Layout(published_db=db.absolute(), exports_dir=exports.absolute())


# -- the build lock ----------------------------------------------------------------------------
@contextmanager
def build_lock(layout: Layout) -> Iterator[None]:
    """Holds an exclusive flock on target/spendlens-build.lock for the whole build.

    The kernel drops the lock when the process ends, however it ends (also on SIGKILL), so a
    stale lock file never blocks the next build. A second build fails at once and says who holds it.
    """
    layout.target_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "pid unknown"
            raise SpendlensError(
                f"another spendlens build is already running ({holder}) on {layout.target_dir}: "
                "wait for it to finish (or stop that process) and run `spendlens build` again"
            ) from None
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started at {started}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


# -- build folders -----------------------------------------------------------------------------
def new_id() -> str:
    """A sortable, unique id: UTC time to the microsecond plus the process id."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}"


def new_build_dir(layout: Layout) -> Path:
    folder = layout.builds_dir / f"build-{new_id()}"
    folder.mkdir(parents=True)
    return folder


def _pid_of(name: str) -> int | None:
    try:
        return int(name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_builds(layout: Layout, keep_failed: int = 2) -> None:
    """Deletes build folders of earlier runs but the newest `keep_failed` (kept for inspection).

    Called with the build lock held, so no other build is writing in there.
    """
    if not layout.builds_dir.is_dir():
        return
    folders = sorted(p for p in layout.builds_dir.iterdir() if p.name.startswith("build-"))
    old = [p for p in folders if _pid_of(p.name) != os.getpid()]
    for folder in old[: max(len(old) - keep_failed, 0)]:
        shutil.rmtree(folder, ignore_errors=True)


# -- atomic file and folder swaps --------------------------------------------------------------
def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(source: Path, destination: Path) -> None:
    """Moves `source` over `destination` in one rename (same file system)."""
    fsync_file(source)
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)
    fsync_dir(destination.parent)


def versions_dir(published: Path) -> Path:
    return published.parent / (published.name + VERSIONS_SUFFIX)


def file_in_use(path: Path) -> bool:
    """True when another process holds a POSIX lock on `path` (DuckDB locks the files it opens,
    a read-only connection with a shared lock)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _check_plain_folder(published: Path) -> None:
    """Refuses to take over a plain folder holding anything but export files."""
    if not published.is_dir() or published.is_symlink():
        return
    foreign = [
        p.name for p in published.iterdir()
        if not p.is_file() or not p.name.endswith(_EXPORT_FILE_SUFFIXES)
    ]
    if foreign:
        raise SpendlensError(
            f"{published} is a folder with other files in it ({', '.join(sorted(foreign)[:5])}): "
            "spendlens only replaces folders it wrote; move those files or pass another --out"
        )


def _take_over_plain_folder(published: Path, versions: Path) -> None:
    """Moves a plain folder left by an older spendlens into the versions folder, so that
    `published` can become a symlink (old readers keep their open files)."""
    _check_plain_folder(published)
    os.rename(published, versions / f"00000000T000000000000-{os.getpid()}-legacy")


def publish_folder(
    published: Path,
    write: Callable[[Path], None],
    finish: Callable[[Path], None] | None = None,
    keep: int | None = None,
) -> Path:
    """Writes a new complete version of a published folder and swaps it in atomically.

    `write(folder)` fills a temporary folder; it is then renamed to `<name>.versions/<id>`,
    `finish(final)` may add files that must know the final path, and `published` (a symlink) is
    replaced in one rename to point at it. Returns the version folder.
    Readers that opened files of an older version keep reading them: the newest `keep` versions
    (env SPENDLENS_EXPORTS_KEEP, default 2) and any version whose DuckDB file is still open stay.
    """
    if keep is None:
        keep = max(int(os.environ.get("SPENDLENS_EXPORTS_KEEP", "2")), 1)
    published = published.absolute()
    _check_plain_folder(published)
    versions = versions_dir(published)
    versions.mkdir(parents=True, exist_ok=True)
    version_id = new_id()
    tmp = versions / f"{TMP_PREFIX}{version_id}"
    final = versions / version_id
    tmp.mkdir()
    try:
        write(tmp)
        for item in tmp.iterdir():
            fsync_file(item)
        os.rename(tmp, final)
        if finish is not None:
            finish(final)
            for item in final.iterdir():
                fsync_file(item)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        raise
    fsync_dir(versions)

    link_tmp = published.parent / f".{published.name}.{TMP_PREFIX}{version_id}"
    os.symlink(os.path.relpath(final, published.parent), link_tmp)
    if published.is_dir() and not published.is_symlink():
        _take_over_plain_folder(published, versions)
    os.replace(link_tmp, published)
    fsync_dir(published.parent)
    clean_versions(published, keep)
    return final


def clean_versions(published: Path, keep: int) -> None:
    """Deletes old versions and temporary folders of dead processes, never the current one."""
    versions = versions_dir(published)
    current = published.resolve() if published.is_symlink() else None
    finished: list[Path] = []
    for item in versions.iterdir():
        if item.name.startswith(TMP_PREFIX):
            if not _pid_alive(_pid_of(item.name)):
                shutil.rmtree(item, ignore_errors=True)
        elif item.is_dir():
            finished.append(item)
    for stale in published.parent.glob(f".{published.name}.{TMP_PREFIX}*"):
        if stale.is_symlink() and not _pid_alive(_pid_of(stale.name)):
            stale.unlink(missing_ok=True)
    finished.sort(key=lambda p: p.name)
    for old in finished[: max(len(finished) - keep, 0)]:
        if old.resolve() == current:
            continue
        if any(file_in_use(f) for f in old.glob("*.duckdb")):
            continue  # a BI session still has this version open; a later build removes it
        shutil.rmtree(old, ignore_errors=True)

