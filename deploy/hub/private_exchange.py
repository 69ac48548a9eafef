"""nbgrader's file-system exchange, made private between students sharing one machine.

Stock nbgrader leaves each submission world-readable (files 0644 in a 0777 folder) and hides it
only behind an unguessable name, and `collect` takes a folder named `alice+…` as alice's even when
another user wrote it (it only warns).  With the exchange's folders set up by setup_course.py
(inbound: setgid to the course's graders group, sticky, not listable):

* `PrivateSubmit` (students' servers): the submission folder can be entered by its author and
  the graders group only, so a leaked name shows another student nothing;
* the course's collect (`autograder.hooks.collect.RegularFilesCollect` with `owner_must_match`, set
  in deploy/hub/nbgrader_config.py): a submission counts only for the user who owns it; a folder
  that claims another student's name is skipped with a warning.

Configured with `c.ExchangeFactory.submit` (see deploy/hub/nbgrader_config.py and
setup_course.py).  Imports nbgrader only: it runs in the student's server.
"""
from __future__ import annotations

import os
import stat

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

