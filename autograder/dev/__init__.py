"""For developing a course: the demo, sample classes, throw-away course copies.

May import anything in the package.
"""
