"""Run folders: discover, read, follow and summarise cookbook runs (headless, no Textual).

Entry points: :class:`runner.runs.store.RunStore` (many runs), :class:`runner.runs.folder.RunFolder`
(one run), :func:`runner.runs.watch.watch_changes` (one watcher for all roots). Data crossing into
the UI are the dataclasses in :mod:`runner.runs.summary`.
"""
