"""Shared test setup: tests import helpers from each other (``from test_wrappers import ...``)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
