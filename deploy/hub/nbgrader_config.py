"""System-wide nbgrader config of the hub deployment, for students and the instructor alike.

Every server of the hub finds this file on JUPYTER_CONFIG_PATH (settings.Settings.environment);
the instructor's course root has its own nbgrader_config.py, read after this one, which sets the
gradebook and the hardened autograde path.  The student id is the user's login name.
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = os.environ["NBGRADER_COURSE_ID"]
c.Exchange.root = os.environ["NBGRADER_EXCHANGE_ROOT"]
# Submissions readable by their author and the graders only (private_exchange.py, beside this
# file); the course's collect (its own nbgrader_config.py) trusts file owners, not folder names.
c.ExchangeFactory.submit = "private_exchange.PrivateSubmit"
c.RegularFilesCollect.owner_must_match = True
# Students own their submissions and could rewrite them, timestamp.txt included: the time that
# counts is the exchange's record of the last change (autograder/hooks/collect.py).
c.RegularFilesCollect.trust_exchange_time = True
