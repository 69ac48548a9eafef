"""The single writer: worker results into nbgrader's gradebook and ``autograded/`` folders.

May import: ``intake``, ``course``, ``hooks.lateness``, ``batch.jobs``, nbgrader's API.
"""
