"""milab's reporting layer: JUnit XML, pytest-html and the tutorial matrix, all redacted.

* :mod:`milab.reporting.plugin` -- the pytest plugin (``pytest_plugins = ["milab.reporting.plugin"]``)
* :mod:`milab.reporting.matrix` -- ``write_matrix`` / ``load_matrix`` for other tools
"""
from milab.reporting.matrix import MatrixRow, load_matrix, write_matrix

__all__ = ["MatrixRow", "load_matrix", "write_matrix"]
