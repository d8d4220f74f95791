"""Helpers that the course notebooks import: data, runtime modes, plots and widgets.

This package is infrastructure only. It never holds the answer to a graded
exercise: students write those in the notebooks.
"""

import os

# TensorFlow prints pages of C++ start-up logs; keep them out of students' and
# graders' output. Must be set before TensorFlow is imported, so importing
# `course` first is enough.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
