"""What runs inside the student's process, and nothing else.

``child`` serves the grader's requests in the confined process that runs the student's
cells; ``calling`` calls a student's function on one probe and turns the answer into plain
data; ``tracer`` records what autograd ran during the call; ``remote`` answers the proxies of
a test cell that runs on the grader's side. None of them imports scoring, references, the
course's declarations or its secret (tests/test_trust_boundary.py checks every import): the
student's code can read this process's memory, so nothing here may hold what decides a score.
"""
