"""The instructor's tools through a term: the report, exports, similarity, answers as text.

May import: ``intake``, ``course``, ``gradebook``, nbgrader's API.
"""
