"""``ac.claim``: a sentence about a result, checked by the run that prints it, and kept in the chapter's record."""

from __future__ import annotations

import json

import pytest

import aigc_course as ac
from aigc_course.core import claims, config, report


@pytest.fixture
def fast_run(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_COURSE_BUILD", str(tmp_path))
    return ac.setup("00_welcome", "fast", quiet=True)


def test_a_claim_that_holds_prints_and_is_kept(fast_run, capsys):
    assert ac.claim("the Gaussian's log-likelihood is lower", True, "-2.1 < -1.7") is None  # no echo in notebooks
    assert "✔ claim: the Gaussian's log-likelihood is lower (-2.1 < -1.7)" in capsys.readouterr().out
    assert claims.claims() == [{"statement": "the Gaussian's log-likelihood is lower", "holds": True,
                                "evidence": "-2.1 < -1.7", "trained": True, "enforced": True}]


def test_a_contradicted_claim_fails_the_run_and_names_the_sentence(fast_run, capsys):
    with pytest.raises(claims.ClaimFailed, match="EMA weights beat the raw ones.*rewritten"):
        ac.claim("EMA weights beat the raw ones", 12.3 < 11.0, "12.3 vs 11.0")
    assert "✘ claim" in capsys.readouterr().out
    assert issubclass(claims.ClaimFailed, AssertionError)  # nbval and the runner see a failed cell


def test_smoke_skips_trained_claims_but_enforces_mathematical_ones(monkeypatch, capsys):
    ac.setup("00_welcome", "smoke", quiet=True)
    ac.claim("the model covers all modes", False)  # a few seconds of training prove nothing
    assert "not checked in the smoke profile" in capsys.readouterr().out
    assert claims.claims()[0]["enforced"] is False
    with pytest.raises(claims.ClaimFailed):
        ac.claim("KL is never negative", False, trained=False)


def test_setup_forgets_the_claims_of_the_previous_run(fast_run):
    ac.claim("one", True)
    ac.setup("00_welcome", "fast", quiet=True)
    assert claims.claims() == []


def test_claim_rejects_a_missing_sentence_or_an_ambiguous_verdict(fast_run):
    with pytest.raises(ValueError, match="sentence"):
        ac.claim("", True)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="single truth value"):
        ac.claim("all positive", torch.tensor([1.0, 2.0]) > 0)


def test_record_keeps_the_claims_and_echoes_one_line(fast_run, tmp_path):
    ac.claim("held", True)
    entry = report.record({"mle_abs_err": 1e-4, "heldout_ll_gaussian": -2.0, "heldout_ll_true_mixture": -1.7},
                          out_dir=tmp_path, quiet=True)
    stored = json.loads((tmp_path / "00_welcome.json").read_text())
    assert stored["claims"][0]["statement"] == "held" and entry["claims"] == stored["claims"]
    assert repr(entry) == "<record of 3 figures for 00_welcome (fast); missed targets: none; 1 of 1 claims held>"
    assert config.current_run().chapter == "00_welcome"
