"""Plain data both sides of the sandbox share: values, rules, reports and the wire format.

``values`` (``Probe``, ``Outcome``, ``Verdict``), ``rules`` (what a student's function may
call), ``reports`` (what the child says about the cells it ran) and ``wire`` (JSON plus raw
float64 buffers; never a pickle back from the child).

May import: the standard library, numpy, cloudpickle. Nothing else of the package.
"""
