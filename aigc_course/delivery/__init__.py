"""Course delivery: hand-outs, slides and the course site.

- :mod:`.tag_solutions` — tag each exercise's solution cell ``solution`` (idempotent, re-runnable);
- :mod:`.student` — ``aigc-course build --student`` (solutions stubbed) / ``--instructor``;
- :mod:`.slides` — ``aigc-course slides``: offline reveal.js decks;
- :mod:`.site` — ``aigc-course site``: an offline course site from a runner output folder;
- :mod:`.web` — the pinned reveal.js and MathJax from npm that slides and site copy next to their pages.
"""
