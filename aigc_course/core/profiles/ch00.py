"""Profile-table row of chapter 00: Welcome & setup."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="00_welcome",
        title="Welcome & setup",
        branch="foundations",
        summary="what AIGC is, the course map, a first generative model, how to run, EN–中文 glossary, doctor",
        base={"torch_threads": 1,  # a 1-D mixture: one thread is plenty, and leaves the other core free
              "demo_points": 2000, "mle_lr": 0.05, "mle_steps": 600, "gap_halfwidth": 0.8},
        profiles={"smoke": {"demo_points": 200, "mle_steps": 300}},
        targets={
            profile: {"mle_abs_err": "< 1e-3", "heldout_ll_gaussian": "< heldout_ll_true_mixture"}
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.2, "fast": 0.3, "full": 0.3},
    )
)
