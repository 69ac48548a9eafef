"""Graded on submit: `autograder serve` watches the exchange's inbound and, for each new
submission of an assignment it serves, does what the instructor would do by hand: collect it,
grade it on the hardened path, write the gradebook and release the feedback.

``inbound`` finds complete submissions by the course's collect rules, ``journal`` remembers
each one (so a restart loses none and grades none twice), ``rules`` holds the instructor's
settings (which assignments, how often), ``deliver`` generates and releases feedback with
nbgrader's own machinery, ``service`` is the loop, ``account`` the switch from root to the
instructor once the workers have started.

May import: ``batch``, ``gradebook``, ``hooks``, ``course``, ``intake``, nbgrader.
"""
