"""`nbgrader collect` that brings in folders and regular files only.

The exchange's inbound folder is writable by every student, and stock collect copies it with
``shutil.copytree``, which follows links: a link planted there makes the instructor's process
copy whatever it points at (another student's work, the instructor's solutions, /dev/zero),
and a named pipe stalls it. ``nbgrader_config.py`` makes ``ExchangeFactory.collect`` this
class: a submission is first copied, without following anything, into a private staging
folder; nbgrader's own rules (ignore/include globs, size limits, group sharing) then copy
it from there into ``submitted/``.
"""
from __future__ import annotations

import os
import tempfile

from nbgrader.exchange.default.collect import ExchangeCollect

from autograder.files import copy_regular_tree, open_folder


class RegularFilesCollect(ExchangeCollect):
    """ExchangeCollect that never follows a link or opens a special file in the exchange."""

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
                super().do_copy(staging, dest, log)
        finally:
            os.close(folder)
