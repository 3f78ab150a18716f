"""Chapter 14 package code: attacks, detectors, bias probes, memorisation, interpretability, watermark."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aigc_course.apps import risks, watermark
from aigc_course.core import config
from aigc_course.metrics.image import MNISTClassifier
from aigc_course.models.lm import GPT, GPTConfig


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _images(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _classifier() -> MNISTClassifier:
    torch.manual_seed(0)
    return MNISTClassifier(channels=4, features=16).eval()


# --------------------------------------------------------------------------------------------
# Attacks
# --------------------------------------------------------------------------------------------
def test_fgsm_moves_exactly_eps_along_the_gradient_sign():
    model, (x, y) = _classifier(), _images()
    x = x * 0.6 + 0.2  # away from 0 and 1, so the clamp does not bite
    eps = 0.1
    adv = risks.fgsm(model, x, y, eps)
    grad = risks.input_gradient(model, x, y)
    assert torch.allclose(adv - x, eps * grad.sign(), atol=1e-6)
    assert (adv - x).abs().max().item() == pytest.approx(eps, abs=1e-6)


def test_fgsm_keeps_images_valid():
    model, (x, y) = _classifier(), _images()
    adv = risks.fgsm(model, x, y, 0.3)
    assert adv.min() >= 0 and adv.max() <= 1 and adv.shape == x.shape


def test_projection_onto_the_eps_ball_and_the_unit_box():
    x = torch.tensor([0.0, 0.5, 0.95, 0.5]).view(1, 1, 2, 2)
    far = torch.tensor([-1.0, 0.9, 2.0, 0.45]).view(1, 1, 2, 2)
    out = risks.project_linf(far, x, 0.1)
    assert torch.allclose(out.flatten(), torch.tensor([0.0, 0.6, 1.0, 0.45]))
    with pytest.raises(ValueError, match="eps"):
        risks.project_linf(far, x, -0.1)


def test_pgd_stays_in_the_ball_and_beats_fgsm_on_the_loss():
    model, (x, y) = _classifier(), _images(16)
    eps = 0.05
    adv = risks.pgd(model, x, y, eps, steps=10, generator=torch.Generator().manual_seed(0))
    assert (adv - x).abs().max() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    loss = nn.functional.cross_entropy
    with torch.no_grad():
        assert loss(model(adv), y) >= loss(model(x), y)


def test_attacks_refuse_bad_input():
    model, (x, y) = _classifier(), _images()
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        risks.fgsm(model, x[:, 0], y, 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        risks.fgsm(model, x * 255, y, 0.1)
    with pytest.raises(ValueError, match="labels"):
        risks.pgd(model, x, y[:3], 0.1, 5)
    with pytest.raises(ValueError, match="attack"):
        risks.robust_accuracy(model, x, y, "carlini", 0.1)


def test_accuracy_vs_eps_at_zero_is_clean_accuracy():
    model, (x, y) = _classifier(), _images(20)
    curve = risks.accuracy_vs_eps(model, x, y, (0.0, 0.1), steps=2, progress=False)
    clean = risks.accuracy(model, x, y)
    assert curve["fgsm"][0] == curve["pgd"][0] == clean


# --------------------------------------------------------------------------------------------
# Detector, generators, bias probe
# --------------------------------------------------------------------------------------------
def test_detector_learns_an_obvious_difference_and_scores_balanced():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 1, 28, 28, generator=g) * 0.5
    fake = 0.5 + torch.rand(64, 1, 28, 28, generator=g) * 0.5
    det = risks.train_detector(real, fake, channels=4, steps=60, batch=32)
    assert det(real[:3]).shape == (3,)
    assert risks.detector_accuracy(det, real, fake) > 0.9
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        risks.detector_accuracy(det, real[:, 0], fake)


@pytest.mark.parametrize("kind", risks.GENERATORS)
def test_generators_build_and_sample_8_bit_images(kind):
    hp = {"dcgan": {"latent_dim": 8, "channels": 4}, "mlp_gan": {"latent_dim": 8, "hidden": 16, "depth": 1},
          "vae": {"latent_dim": 4, "channels": 4, "hidden": 16},
          "diffusion": {"channels": (4, 8), "emb_dim": 16, "T": 20, "sample_steps": 2}}
    model = risks.build_generator(kind, hp)
    x = risks.sample_digits(kind, model, 5, hp, seed=0)
    assert x.shape == (5, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert torch.allclose(x * 255, (x * 255).round(), atol=1e-4)
    with pytest.raises(ValueError, match="kind"):
        risks.build_generator("flow", hp)


def test_name_probe_shapes_and_spread():
    def fake_predict(texts):
        return np.array([[0.8, 0.1, 0.1] if "Tesla" in t else [0.1, 0.1, 0.8] for t in texts])

    probs = risks.name_probe(fake_predict, ["{name} rises", "{name} falls"], ["Tesla", "Apple", "Ford"])
    assert probs.shape == (2, 3, 3)
    spread = risks.probe_spread(probs)
    assert np.allclose(spread, [[0.7, 0.0, 0.7], [0.7, 0.0, 0.7]])
    with pytest.raises(ValueError, match="slot"):
        risks.name_probe(fake_predict, ["no slot here"], ["Tesla"])


# --------------------------------------------------------------------------------------------
# Memorisation, interpretability
# --------------------------------------------------------------------------------------------
def _gpt(vocab: int = 7, block: int = 16) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab, block, n_layer=2, n_head=2, n_embd=16)).eval()


def test_gpt_attention_reproduces_the_model_and_is_causal():
    model = _gpt()
    idx = torch.randint(0, 7, (2, 10))
    weights, logits = risks.gpt_attention(model, idx)
    assert weights.shape == (2, 2, 2, 10, 10)
    assert torch.allclose(logits, model(idx), atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 2, 10), atol=1e-6)
    assert weights.triu(1).abs().max() == 0


def test_memorisation_counts_occurrences_in_the_training_text():
    model = _gpt()
    source = torch.randint(0, 7, (200,))
    decode = lambda ids: "".join("abcdefg"[i] for i in ids.tolist())  # noqa: E731
    greedy = risks.greedy_continue(model, source[None, :5], 20)
    assert greedy.shape == (1, 20)
    out = risks.memorisation(model, decode, source, decode(source), n_prompts=5, prompt_len=5, n_new=20,
                             lengths=(1, 20), seed=0)
    assert out["rates"][1] == 1.0  # every single character of the vocabulary occurs in the text
    assert 0.0 <= out["rates"][20] <= 1.0 and len(out["examples"]) == 5
    with pytest.raises(ValueError, match="n_new"):
        risks.memorisation(model, decode, source, "", 2, 5, 10, (20,), 0)


def test_integrated_gradients_are_complete():
    model, (x, y) = _classifier(), _images(3)
    ig = risks.integrated_gradients(model, x, y, steps=128)
    with torch.no_grad():
        gap = model(x).gather(1, y[:, None]).squeeze(1) - model(torch.zeros_like(x)).gather(1, y[:, None]).squeeze(1)
    assert torch.allclose(ig.flatten(1).sum(1), gap, rtol=0.05, atol=0.02)
    assert risks.saliency(model, x, y).shape == x.shape


# --------------------------------------------------------------------------------------------
# Watermark
# --------------------------------------------------------------------------------------------
def test_green_lists_have_the_right_share_and_depend_on_the_key():
    green = watermark.green_lists(65, 0.5, key=1)
    assert green.shape == (65, 65) and (green.sum(1) == round(0.5 * 65)).all()
    assert not torch.equal(green, watermark.green_lists(65, 0.5, key=2))
    assert torch.equal(green, watermark.green_lists(65, 0.5, key=1))
    with pytest.raises(ValueError, match="gamma"):
        watermark.green_lists(65, 1.5, key=1)


def test_z_score_formula_and_null_distribution():
    assert watermark.z_score(60, 100, 0.5) == pytest.approx(2.0)
    green = watermark.green_lists(50, 0.25, key=3)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 50, (400, 200), generator=g)
    z, _, _ = watermark.z_scores(tokens[:, 0], tokens[:, 1:], green, unique=False)
    assert watermark.green_share(green) == 12 / 50  # round(0.25 * 50) / 50: the share the detector must use
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15


def test_watermarked_text_has_a_high_z_and_plain_text_does_not():
    vocab = 20
    model = _gpt(vocab, block=64)
    green = watermark.green_lists(vocab, 0.5, key=0)
    prompts = torch.randint(0, vocab, (20, 4), generator=torch.Generator().manual_seed(0))
    marked, nll = watermark.generate(model, prompts, 60, green, 4.0, generator=torch.Generator().manual_seed(1))
    plain, _ = watermark.generate(model, prompts, 60, generator=torch.Generator().manual_seed(1))
    assert marked.shape == nll.shape == (20, 60) and (nll > 0).all()
    z_marked, _, _ = watermark.z_scores(prompts[:, -1], marked, green)
    z_plain, _, _ = watermark.z_scores(prompts[:, -1], plain, green)
    assert z_marked.min() > 3 and abs(z_plain.mean()) < 1.0
    result = watermark.tpr_at_fpr(z_marked, z_plain, 0.01)
    assert result["tpr"] == 1.0 and result["threshold"] >= watermark.threshold_for_fpr(0.01)


def test_tpr_at_fpr_never_exceeds_the_requested_false_positive_rate():
    null = np.linspace(-3, 4, 120)  # a wide null: the empirical threshold must win over z* = 2.33
    out = watermark.tpr_at_fpr(np.array([3.5, 3.95, 5.0]), null, 0.01)
    assert out["fpr"] <= 0.01 and out["threshold"] == pytest.approx(null[-2])
    assert out["tpr"] == pytest.approx(2 / 3)
    assert watermark.tpr_at_fpr(np.array([3.0]), np.zeros(50), 0.01)["threshold"] == pytest.approx(2.3263, abs=1e-3)


def test_watermark_costs_loss_and_edits_erase_it():
    vocab = 20
    model = _gpt(vocab, block=16)
    green = watermark.green_lists(vocab, 0.5, key=0)
    data = torch.randint(0, vocab, (400,))
    assert watermark.watermarked_loss(model, data, 16, green, 0.0) == pytest.approx(
        watermark.watermarked_loss(model, data, 16, None, 2.0))
    tokens = torch.randint(0, vocab, (3, 50))
    assert torch.equal(watermark.substitute(tokens, 0.0, vocab), tokens)
    assert not torch.equal(watermark.substitute(tokens, 1.0, vocab, torch.Generator().manual_seed(0)), tokens)
    assert watermark.binomial_tail(10, 0.5, 0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="prompts"):
        watermark.generate(model, torch.zeros(3, dtype=torch.long), 5)


def test_chapter_row_has_the_issue_targets():
    spec = config.chapter("14_responsible_aigc")
    for profile in ("fast", "full"):
        targets = spec.targets_for(profile)
        assert targets["adv_training_robust_gain"] == ">= 0.2"
        assert targets["watermark_detect_tpr_at_fpr_1pct"] == ">= 0.9"
    assert spec.minutes["fast"] <= 6


# --------------------------------------------------------------------------------------------
# The cached training helpers (tiny settings, isolated checkpoint folder)
# --------------------------------------------------------------------------------------------
def test_overfit_lm_trains_a_copy_and_caches_it(isolated):
    base = _gpt(vocab=7, block=16)
    ids = torch.randint(0, 7, (400,), generator=torch.Generator().manual_seed(0))
    hp = {"overfit_chars": 100, "overfit_steps": 3, "overfit_lr": 1e-3, "overfit_batch": 2}
    first = risks.train_overfit_lm(base, {"test": 1}, ids, ids[200:], hp)
    assert not first.loaded and first.model is not base and {"train_loss", "val_loss"} <= set(first.extra)
    assert any(not torch.equal(a, b) for a, b in zip(first.model.parameters(), base.parameters()))
    assert risks.train_overfit_lm(base, {"test": 1}, ids, ids[200:], hp).loaded
    # a retrained base (other weights, same config) must not bring back the copy made from the old one
    with torch.no_grad():
        next(base.parameters()).add_(0.01)
    again = risks.train_overfit_lm(base, {"test": 1}, ids, ids[200:], hp)
    assert not again.loaded


def test_weights_digest_follows_the_weights_only():
    from aigc_course.core import training

    a, b = _gpt(vocab=7, block=16), _gpt(vocab=7, block=16)
    b.load_state_dict(a.state_dict())
    assert training.weights_digest(a) == training.weights_digest(b) and len(training.weights_digest(a)) == 12
    with torch.no_grad():
        next(b.parameters())[0].add_(1e-6)
    assert training.weights_digest(a) != training.weights_digest(b)


def test_robust_classifier_and_generators_train_on_mnist(with_mirror):
    hp = {"adv_eps": 0.1, "adv_pgd_steps": 1, "adv_steps": 2, "adv_batch": 8, "adv_lr": 1e-3, "adv_chunk": 1,
          "train_limit": 64, "vae": {"latent_dim": 4, "channels": 4, "hidden": 16, "steps": 2, "batch": 8, "lr": 1e-3}}
    base = _classifier()
    robust = risks.train_robust_classifier(base, {"test": 1}, hp, progress=False)
    assert robust.extra["train_seconds"] > 0 and len(robust.history["loss"]) == 2
    vae = risks.train_generator("vae", hp, progress=False)
    assert risks.sample_digits("vae", vae.model, 3, hp, seed=0).shape == (3, 1, 28, 28)


def test_the_threshold_is_set_on_calibration_scores_and_the_rate_is_reported_with_an_interval():
    calib = np.linspace(-3, 4, 200)  # k = floor(0.01 · 200) = 2: the third-largest score
    thr = watermark.calibrate_threshold(calib, 0.01)
    assert thr == pytest.approx(np.sort(calib)[-3]) and (calib > thr).sum() == 2
    assert watermark.calibrate_threshold(np.zeros(10), 0.01) == pytest.approx(watermark.threshold_for_fpr(0.01))
    held_out = np.array([0.0, 1.0, 3.99, 5.0])
    rate = watermark.flag_rate(held_out, thr)
    assert (rate["k"], rate["n"]) == (2, 4) and rate["rate"] == 0.5 and rate["low"] < 0.5 < rate["high"]
    low, high = watermark.rate_interval(0, 100)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 100))  # exact Clopper–Pearson bound for k = 0
    with pytest.raises(ValueError):
        watermark.rate_interval(3, 2)


@pytest.mark.parametrize("kind", ["dcgan", "mlp_gan", "vae"])
def test_course_generators_are_loaded_from_their_chapters_checkpoints_only_when_present(kind, isolated):
    assert risks.load_course_generator(kind, ("smoke",)) is None  # the isolated checkpoint folder is empty
    name, cfg, build = risks.course_generator_checkpoint(kind, "smoke")
    assert name.startswith(("04_", "05_"))
    model = build()
    from aigc_course.core import training

    training.atomic_save({"model": model.state_dict(), "history": {}, "extra": {}}, training.checkpoint_path(name, cfg))
    loaded, source = risks.load_course_generator(kind, ("fast", "smoke"))
    assert "smoke profile" in source
    images = risks.sample_digits(kind, loaded, 3, {}, seed=0)
    assert images.shape == (3, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert risks.load_course_generator("diffusion", ("smoke",)) is None


@pytest.mark.parametrize("profile", ["smoke", "fast"])
def test_chapter_14_keys_chapter_05s_vae_exactly_as_chapter_05_trains_it(profile):
    """The VAE's checkpoint config is written twice, in chapter 05's cells and in risks.course_generator_checkpoint:
    evaluate the notebook's own `arch = ...` and `cfg = ...` statements and compare, so that a setting added to one
    (as pixel_bias was) cannot leave chapter 14 training stand-ins."""
    import ast
    import json
    import types
    from pathlib import Path

    import aigc_course as ac
    from aigc_course.core import training

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "05_vae.ipynb").read_text(encoding="utf-8"))
    cells = {c.get("id"): "".join(c["source"]) for c in nb["cells"]}
    scope = {"hp": config.chapter("05_vae").hparams(profile), "run": types.SimpleNamespace(seed=config.DEFAULT_SEED),
             "ac": ac, "device": config.resolve_device()}
    for cell, target in (("05-022", "bf16"), ("05-022", "arch"), ("05-023", "cfg")):
        (statement,) = [node for node in ast.parse(cells[cell]).body if isinstance(node, ast.Assign)
                        and [t.id for t in node.targets if isinstance(t, ast.Name)] == [target]]
        exec(compile(ast.Module([statement], []), cell, "exec"), scope)  # noqa: S102 (the course's own cell)
    name, cfg, _ = risks.course_generator_checkpoint("vae", profile)
    assert name == "05_conv_vae" and cfg == scope["cfg"]
    assert training.checkpoint_path(name, cfg) == training.checkpoint_path("05_conv_vae", scope["cfg"])


@pytest.mark.parametrize("kind, cell_name, arch_line", [
    ("dcgan", "dcgan", 'dc_arch = {"latent_dim": hp.latent_dim, "channels": hp.channels}'),
    ("mlp_gan", "mlp_gan", None),
])
def test_chapter_14_keys_chapter_04s_gans_exactly_as_chapter_04_trains_them(kind, cell_name, arch_line):
    """Chapter 14 reuses chapter 04's GANs by recomputing their checkpoint's config: run chapter 04's own
    `train_image_gan` cell (with `load_or_train` stubbed to capture what it would save) and compare."""
    import json
    import types
    from pathlib import Path

    from aigc_course.core import training
    from aigc_course.models import gan

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "04_image_gans.ipynb").read_text(encoding="utf-8"))
    cells = {c.get("id"): "".join(c["source"]) for c in nb["cells"]}
    seen = {}

    class Captured(Exception):
        pass

    def load_or_train(name, cfg, build, train, **kwargs):
        seen.update(name=name, cfg=cfg)
        raise Captured

    for profile in ("smoke", "fast", "full"):
        hp = config.chapter("04_image_gans").hparams(profile)
        device = config.resolve_device()
        scope = {"hp": hp, "device": device, "torch": torch, "nn": nn, "gan": gan,
                 "run": types.SimpleNamespace(seed=config.DEFAULT_SEED),
                 "ac": types.SimpleNamespace(training=types.SimpleNamespace(load_or_train=load_or_train,
                                                                            use_bf16=training.use_bf16))}
        exec(cells["04-015"], scope)  # noqa: S102 (the course's own notebook cell)
        if arch_line:
            exec(arch_line, scope)  # noqa: S102
            assert arch_line in cells["04-027"]
            arch, steps = scope["dc_arch"], hp.dcgan_steps
        else:
            arch, steps = {"latent_dim": hp.latent_dim, "hidden": hp.mlp_hidden, "depth": hp.mlp_depth}, hp.mlp_steps
            mlp_arch = 'arch={"latent_dim": hp.latent_dim, "hidden": hp.mlp_hidden, "depth": hp.mlp_depth}'
            assert mlp_arch in cells["04-020"]
        with pytest.raises(Captured):
            scope["train_image_gan"](cell_name, lambda: None, steps, lr_g=hp.lr_g, lr_d=hp.lr_d, arch=arch)
        name, cfg, _ = risks.course_generator_checkpoint(kind, profile, device)
        assert name == f"04_{cell_name}" == seen["name"] and cfg == seen["cfg"]
        assert training.checkpoint_path(name, cfg) == training.checkpoint_path(seen["name"], seen["cfg"])
