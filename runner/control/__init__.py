"""Run control: recipe catalogue, launch specs, detached supervisors, queue, stop/resume/clone/rm.

Files (all outside the cookbook ``log_path``, so the cookbook's ``delete`` can never touch them)::

    <state dir>/runs/<run_id>/spec.json      what was launched (argv, overrides, cwd, env var NAMES)
    <state dir>/runs/<run_id>/state.json     status, pids + start times, exit code, times, config, commit
    <state dir>/runs/<run_id>/console.log     the job's stdout+stderr, plus [tinkertop] lines
    <state dir>/runs/<run_id>/code.diff      dirty diff of the launching repo (redacted)
    <state dir>/runs/<run_id>/stop.json      a stop request (grace seconds)
    <state dir>/queue.lock, settings.json    queue lock, max_parallel
    <cwd>/notes/experiments/<date>-<name>.md the experiment record (metrics filled in at the end)

``run_id = <folder name>-<8 hex of sha1(realpath(folder))>``: ``records.status_for(folder)`` finds a
run's record from its folder with one stat. Modules: ``catalogue`` (recipes, models), ``validate``
(chz), ``launch`` (plan + start), ``supervisor`` (owns one job), ``queue``, ``actions``, ``records``,
``creds``, ``experiments``, ``gitinfo``, ``procs`` (/proc), ``store`` (atomic state), ``cli``,
``pending`` (records with no folder yet), ``launcher`` and ``lineup`` (subprocess entry points for
:mod:`runner.api`, the app's one interface).
"""
