"""One submitted notebook, graded on the trusted side of the sandbox.

``grade`` runs the planned cells in a sandbox child and grades each test cell;
``trusted_tests`` runs an instructor's test cell that no declaration covers on this side,
reaching the student's objects through ``proxies``; ``replies`` checks what the child sends
back; ``recording`` writes each test cell's decision where nbgrader reads it.

May import: ``intake``, ``protocol``, ``course``, ``judge``, ``sandbox``, ``batch.jobs``.
"""
