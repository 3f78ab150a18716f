"""The course's foundation, imported by every other layer and importing none of them.

``config`` (the profile table and :func:`setup`), ``paths`` (where data, checkpoints and build outputs live),
``training`` (seeding, atomic checkpoints, resumable training, learning-rate schedules), ``report`` (what a run
records), ``claims`` (sentences a run must make true) and ``course`` (the chapter map and glossary).
"""
