"""The trust boundary: student code runs only in children forked from a clean zygote.

``session.Sandbox`` lives in a trusted worker process and owns one zygote (``zygote``).
``Sandbox.session(...)`` forks a child, which ``isolation`` confines before it runs a line of
student code (own uid, namespaces, limits, hidden paths), and returns a ``Session`` whose
``run_cell`` and ``call`` enforce the time limits from this side: a cell past its limit gets
SIGINT, then SIGKILL; a child that dies, hangs or talks nonsense raises ``ChildDied`` and is
reaped with everything it started. ``share`` carries big probe tensors in memory-backed
files, ``files`` brings out what a notebook wrote, ``startup`` is how the grader's own
processes start.

May import: ``protocol``, ``intake.files``, and ``inside`` (the zygote hands the confined
process to ``inside.child``).
"""
