"""A class graded at once: what is left to grade, the pools that grade it, the single writer.

``plan`` turns what was handed in into notebook jobs (``jobs``), ``localpool`` and
``worker`` grade them on this machine from one warm fork server, ``daskpool`` on a Dask
cluster, ``run`` streams results to the gradebook writer, ``lock`` keeps one run per course,
``progress`` and ``summary`` say what the run did.

May import: ``intake``, ``course``, ``gradebook``, ``sandbox.startup``; the grader itself
(``notebook.grade``) is named by a string and loaded in the workers.
"""
