"""A course's side of grading: the words its declarations use and what they become.

``authoring`` (``exercise``, ``probe``, ``jacobian``, ``value``, ``satisfies``), ``builders``
(probes in general position) and ``products`` (references at scale from autograd products)
are what ``autograding/<assignment>/exercises.py`` imports; ``declarations`` loads those
files, ``directory`` finds the course and its folders, ``seeds`` holds the course secret,
the per-student seeds of hidden probes and the course's seeds of the shared ones.

May import: ``protocol``, ``intake``, ``batch.jobs`` (what a job carries), torch. Never
imported by ``inside``.
"""
