"""Experiments: base vs trained evidence in ``results/`` (issue 13), and ``tinkertop check``."""
