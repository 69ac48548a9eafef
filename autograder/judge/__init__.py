"""Deciding on the trusted side: the student's plain answers against autograd references.

``grading.run_exercise`` is the loop both paths use; ``compare`` names what is wrong,
``policy`` reads the student's source for the by-hand and matrix-free rules, ``scoring``
turns verdicts into points, ``feedback`` writes for a stuck student, and ``selfcheck`` is
``autograder.check``, the same loop run inside the student's own kernel.

May import: ``protocol``, ``course``, ``inside.calling`` (the self-check calls in-process).
"""
