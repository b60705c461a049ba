"""Grading a whole class: ``grader grade KATA DIR``.

Each submission is graded by its own ``grader check KATA --submission DIR
--format json`` process (its own network namespace, its own process tree,
nothing survives it); this package only schedules those processes, keeps
their results, and turns them into a CSV and an HTML summary.

- ``discover``  which folders (or zip members) are submissions, and whose
- ``store``     fingerprints, result files, resume
- ``runner``    one submission as a subprocess: wall-clock limit, leftovers killed
- ``pool``      many at once, progress bar, interruption
- ``table``     the CSV
- ``html``      the summary page and one report page per student
- ``commands``  the ``grade``, ``gradescope`` and ``classroom`` subcommands
"""
