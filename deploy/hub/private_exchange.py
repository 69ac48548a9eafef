"""nbgrader's file-system exchange, made private between students sharing one machine.

Stock nbgrader leaves each submission world-readable (files 0644 in a 0777 folder) and hides it
only behind an unguessable name, and `collect` takes a folder named `alice+…` as alice's even when
another user wrote it (it only warns).  With these two classes, and the exchange's folders set up
by setup_course.py (inbound: setgid to the course's graders group, sticky, not listable):

* `PrivateSubmit` (students' servers): the submission folder can be entered by its author and
  the graders group only, so a leaked name shows another student nothing;
* `OwnerCheckedCollect` (the instructor's): a submission counts only for the user who owns it;
  a folder that claims another student's name is skipped with a warning.

Configured with `c.ExchangeFactory.submit` / `c.ExchangeFactory.collect` (see
deploy/hub/nbgrader_config.py and setup_course.py).  Imports nbgrader only: it runs in the
student's server.
"""
from __future__ import annotations

import glob
import os
import pwd
import stat

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit

# The folder is the gate: it gets the graders group from the setgid inbound, and only its owner
# and that group may enter it (what lies inside keeps nbgrader's modes).
GATE_MODE = stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP                           # 0750


class PrivateSubmit(ExchangeSubmit):
    def copy_files(self):
        super().copy_files()
        folder = os.path.join(self.inbound_path, self.assignment_filename)
        if os.stat(folder).st_gid != os.stat(self.inbound_path).st_gid:
            self.fail(f"{self.inbound_path} must be setgid (chmod g+s) so that the graders can "
                      "read submissions; ask your instructor")
        os.chmod(folder, GATE_MODE)


def _owner(path: str) -> str | None:
    try:
        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except (KeyError, OSError):
        return None


class OwnerCheckedCollect(ExchangeCollect):
    def init_src(self):
        super().init_src()
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
            self.log.warning("Skipping %s: it claims to be %s's but is owned by %s",
                             path, student, _owner(path))
        records = self._sort_by_timestamp([self._path_to_record(p) for p in owned])
        return records[0] if records else None
