"""`nbgrader collect` that brings in folders and regular files only.

The exchange's inbound folder is writable by every student, and stock collect copies it with
``shutil.copytree``, which follows links: a link planted there makes the instructor's process
copy whatever it points at (another student's work, the instructor's solutions, /dev/zero),
and a named pipe stalls it. ``nbgrader_config.py`` makes ``ExchangeFactory.collect`` this
class: a submission is first copied, without following anything, into a private staging
folder; nbgrader's own rules (ignore/include globs, size limits, group sharing) then copy
it from there into ``submitted/``.

Where every student is a user of the machine (a JupyterHub), ``owner_must_match`` also makes a
submission count only for the user who owns it: a folder named ``alice+…`` that another user
wrote is skipped with a warning (stock collect takes it as alice's).  There the student also
owns their submission after `nbgrader submit` and can still change it, `timestamp.txt`
included; ``trust_exchange_time`` makes the submission's time the file system's record of its
last change (the newest status change, ctime, in its folder, which no user can set): when
`timestamp.txt` disagrees with it, collect says so and the collected copy carries that time.
"""
from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import tempfile

from nbgrader.exchange.default.collect import ExchangeCollect
from traitlets import Bool, Float

from autograder.hooks.lateness import TIMESTAMP_FILE, read_timestamp
from autograder.intake.files import copy_regular_tree, open_folder

# how nbgrader writes timestamp.txt
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


class RegularFilesCollect(ExchangeCollect):
    """ExchangeCollect that never follows a link or opens a special file in the exchange."""

    owner_must_match = Bool(False, help="Collect a submission only from the user who owns its folder "
                                        "(students are users of this machine, e.g. on a JupyterHub).").tag(config=True)
    trust_exchange_time = Bool(False, help=(
        "Take a submission's time from the file system: the last change recorded in its inbound "
        "folder (ctime), which students cannot set, whenever timestamp.txt is further than "
        "time_tolerance from it (students are users of this machine and own their submissions, "
        "e.g. on a JupyterHub).")).tag(config=True)
    time_tolerance = Float(120.0, help=(
        "Seconds timestamp.txt may differ from the last change of its submission (the time "
        "`nbgrader submit` takes to copy the files) with trust_exchange_time.")).tag(config=True)

    def init_src(self):
        super().init_src()
        if not self.owner_must_match:
            return
        chosen = []
        for rec in self.src_records:
            if _owner(os.path.join(self.inbound_path, rec["filename"])) != rec["username"]:
                rec = self._newest_owned(rec["username"])
            if rec is not None:
                chosen.append(rec)
        self.src_records = chosen

    def _newest_owned(self, student: str):
        pattern = os.path.join(self.inbound_path,
                               f"{glob.escape(student)}+{glob.escape(self.coursedir.assignment_id)}+*")
        owned, foreign = [], []
        for path in glob.glob(pattern):
            (owned if _owner(path) == student else foreign).append(path)
        for path in foreign:
            self.log.warning("Skipping %s: it claims to be %s's but is owned by %s", path, student, _owner(path))
        records = self._sort_by_timestamp([self._path_to_record(p) for p in owned])
        return records[0] if records else None

    def do_copy(self, src, dest, log=None):
        if self.get_size(src) > 1000 * self.coursedir.max_dir_size:
            return super().do_copy(src, dest, log)      # nbgrader's own "too big" error, nothing copied
        try:
            folder = open_folder(src)
        except OSError as exc:
            self.log.error("Not collected: %s is not a submission folder (%s)", src,
                           "a symbolic link" if os.path.islink(src) else exc.strerror)
            return
        try:
            with tempfile.TemporaryDirectory(prefix="autograder-collect-") as staging:
                for line in copy_regular_tree(folder, staging):
                    self.log.warning("Not collected from %s: %s", src, line)
                if self.trust_exchange_time:
                    self._exchange_time(src, folder, staging)
                super().do_copy(staging, dest, log)
        finally:
            os.close(folder)

    def _exchange_time(self, src: str, folder: int, staging: str) -> None:
        """timestamp.txt in ``staging`` (a copy of ``folder``) checked against the folder's last
        change, measured after the copy so that no change to what was copied escapes it."""
        changed = _last_change(folder)
        claimed, _ = read_timestamp(staging)
        if claimed is not None and abs((changed - claimed).total_seconds()) <= self.time_tolerance:
            return
        self.log.warning("%s: %s says %s, but the submission last changed at %s UTC (the exchange's "
                         "record, which students cannot set); collected with the exchange's time",
                         src, TIMESTAMP_FILE, claimed or "no time", f"{changed:%Y-%m-%d %H:%M:%S}")
        with open(os.path.join(staging, TIMESTAMP_FILE), "w", encoding="utf-8") as fh:
            fh.write(changed.strftime(TIMESTAMP_FORMAT))


def _last_change(folder: int) -> dt.datetime:
    """The newest ctime of the folder ``folder`` and everything in it, links not followed, as
    naive UTC (read_timestamp's form)."""
    newest = os.fstat(folder).st_ctime_ns
    for _, dirs, names, fd in os.fwalk(".", dir_fd=folder, follow_symlinks=False):
        for name in dirs + names:
            newest = max(newest, os.lstat(name, dir_fd=fd).st_ctime_ns)
    return dt.datetime.fromtimestamp(newest / 1e9, dt.timezone.utc).replace(tzinfo=None)


def _owner(path: str) -> str | None:
    try:
        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except (KeyError, OSError):
        return None
