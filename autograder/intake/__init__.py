"""What was handed in, read without trusting it: files, notebooks, cells, the plan of cells to run.

``files`` opens regular files only (never through a link), ``submission`` reads a notebook
whatever the student made of it, ``cells`` reads nbgrader's cell metadata, ``cell_plan``
puts the instructor's locked and test cells back, ``notebook_text`` reads an assignment's
notebooks as text (solution and hidden-test blocks).

May import: the standard library, nbformat, nbgrader's metadata helpers. No torch.
"""
