"""Benchmarks: ``python -m bench`` runs every ``bench/bench_*.py`` module's ``main()``;
``python -m bench load`` runs only ``bench_load``. They print figures and ratios; nothing asserts."""
