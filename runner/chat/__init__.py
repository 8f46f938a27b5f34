"""Sampling from a run's base model or any of its sampler checkpoints (``tinkertop chat``).

``targets`` (cheap: the app imports it) turns a run folder or a ``tinker://`` path into what to sample
and with which renderer; ``session`` (heavy: tinker, tinker_cookbook) samples through the cookbook's own
chat pieces; ``cli`` is the command. The app runs the command as a subprocess (``--json``), so torch and
tinker_cookbook never load in the app's process.
"""
