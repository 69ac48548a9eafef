"""What nbgrader's own commands load from ``nbgrader_config.py``.

``preprocessor`` routes ``nbgrader autograde`` (and the Formgrader's button) through the
trusted path, ``collect`` is ``nbgrader collect`` for regular files only, ``lateness`` the
late-penalty plugin and its feedback,
``release`` the visible checks ``nbgrader generate_assignment`` writes beside the notebooks,
``feedback`` the page ``nbgrader generate_feedback`` writes (written answers not graded yet,
the math as MathML) and its template.

May import: ``intake``, ``course``, ``notebook``, ``batch.jobs``, nbgrader.
"""
