"""``claim``: a sentence about a result, checked by the very run that prints it.

A notebook's prose may say "the EMA weights score a lower FID than the raw ones" or "guidance raises
conditional accuracy and lowers recall". Such a sentence is only true of *this* run if the run checks it.
Put the check in the cell above the sentence::

    ac.claim("EMA weights beat the raw weights on classifier-FID", ema_fid < raw_fid,
             f"{ema_fid:.2f} vs {raw_fid:.2f}")

which prints ``✔ claim: EMA weights beat ... (12.31 vs 14.02)`` and raises :class:`ClaimFailed` when the run
contradicts the sentence — so the course runner and ``nbval`` fail instead of a student reading a false
statement.

Claims that need the profile's budget (the default, ``trained=True``: a trained model, or a statistic over a
sample the ``smoke`` profile shrinks) are enforced in the ``fast`` and ``full`` profiles. The ``smoke`` profile
trains for seconds on tiny samples to check the pipeline only, so there such a claim that does not hold is
printed as "not checked in smoke" instead of failing. Claims about mathematics (``trained=False``: an identity,
an inequality that must hold whatever the weights and sample sizes) are enforced in every profile.

Every claim of a run is kept; :func:`aigc_course.core.report.record` writes them into the chapter's record
(``"claims"``), so the course report shows how many sentences each chapter checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from . import config


class ClaimFailed(AssertionError):
    """A sentence of the notebook that its own run contradicts."""


@dataclass(frozen=True)
class Claim:
    statement: str
    holds: bool
    evidence: str
    trained: bool
    enforced: bool


_CLAIMS: list[Claim] = []


def reset() -> None:
    """Forget the claims of a previous run (``ac.setup`` calls this)."""
    _CLAIMS.clear()


def claims() -> list[dict[str, object]]:
    """The claims made since the last :func:`reset`, as plain dicts (what ``record`` stores)."""
    return [asdict(c) for c in _CLAIMS]


def claim(statement: str, holds: bool, evidence: str = "", *, trained: bool = True) -> None:
    """Check that ``statement`` (a sentence of the notebook) is true of this run.

    ``holds`` is the run's verdict (a bool computed from the run's own figures), ``evidence`` the figures
    themselves, printed beside the statement. Raises :class:`ClaimFailed` when ``holds`` is false — except
    for ``trained=True`` claims in the ``smoke`` profile (see the module docstring). Returns nothing, so that a
    claim at the end of a cell does not echo a value.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("claim() needs the sentence it checks as its first argument")
    try:
        verdict = bool(holds)
    except Exception as exc:  # e.g. a tensor with several elements
        raise TypeError(f"claim({statement!r}): holds must be a single truth value, got {holds!r}") from exc
    run = config.current_run()
    smoke = run is not None and run.is_smoke
    enforced = not (trained and smoke)
    _CLAIMS.append(Claim(statement, verdict, evidence, trained, enforced))
    detail = f" ({evidence})" if evidence else ""
    if verdict:
        print(f"✔ claim: {statement}{detail}")
    elif not enforced:
        print(f"· claim not checked in the smoke profile (its models train for seconds): {statement}{detail}")
    else:
        print(f"✘ claim: {statement}{detail}")
        raise ClaimFailed(
            f"this run contradicts the notebook's sentence {statement!r}{detail}. Either the run went wrong "
            "(look at the figures above) or the sentence must be rewritten from what the run shows."
        )
