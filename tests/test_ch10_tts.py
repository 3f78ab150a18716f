"""Chapter 10 package code: audio features, text front end, corpus, TTS models, vocoder, CTC judge, metrics."""

from __future__ import annotations

import math
import warnings

import matplotlib
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from aigc_course.core import config
from aigc_course.metrics import audio as audio_metrics
from aigc_course.models import audio as ac_audio
from aigc_course.models import speech_recognizer as sr
from aigc_course.models import tts, vocoder
from aigc_course.widgets import tts as tts_widgets

matplotlib.use("Agg")

CFG = ac_audio.MelConfig(n_mels=32, floor=1e-4)


def _tone(seconds: float = 0.5, f0: float = 220.0, sr_: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * sr_)) / sr_
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return (0.3 * wave * np.hanning(len(t))).astype(np.float32)


def _fake_clips(rng: np.random.Generator, hop: int = CFG.hop_length) -> dict[int, list[np.ndarray]]:
    return {d: [rng.standard_normal(hop * int(rng.integers(5, 12))).astype(np.float32) * 0.1 for _ in range(3)]
            for d in range(10)}


# --------------------------------------------------------------------------------------------
# Text front end
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("381", "three eight one"),
    ("3 8 1", "three eight one"),
    ("Three 8-one", "three eight one"),
    ("0171, 55", "zero one seven one five five"),
    ("  nine\tZERO ", "nine zero"),
])
def test_normalize_text(text, expected):
    assert tts.normalize_text(text) == expected
    assert tts.text_to_digits(expected) == "".join(str(tts.DIGIT_WORDS.index(w)) for w in expected.split())


@pytest.mark.parametrize(("text", "named"), [("12a+4", "'+'"), ("3.5", "'.'"), ("٣", "'٣'"), ("x²", "'²'")])
def test_unsupported_characters_are_named(text, named):
    with pytest.raises(tts.UnsupportedTextError, match="unsupported characters") as info:
        tts.normalize_text(text)
    assert named in str(info.value)


def test_unknown_words_and_empty_text():
    with pytest.raises(tts.UnsupportedTextError, match="'ten'"):
        tts.normalize_text("one ten")
    with pytest.raises(tts.UnsupportedTextError, match="nothing to say"):
        tts.normalize_text(" , - ")
    with pytest.raises(TypeError):
        tts.normalize_text(381)


def test_encode_text_appends_eos_and_names_bad_characters():
    ids = tts.encode_text("two one")
    assert ids.dtype == torch.long and len(ids) == len("two one") + 1
    assert tts.decode_ids(ids) == "two one~"
    assert int(ids[-1]) == tts.SYMBOL_TO_ID["~"] and 0 not in ids.tolist()
    with pytest.raises(tts.UnsupportedTextError, match="'3'"):
        tts.encode_text("two 3")


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("hyp", "ref", "der"), [
    ("381", "381", 0.0),
    ("391", "381", 1 / 3),  # one substitution
    ("31", "381", 1 / 3),  # one deletion
    ("3811", "381", 1 / 3),  # one insertion
    ("", "381", 1.0),
    ("9999", "38", 2.0),  # DER can exceed 1
    ("183", "381", 2 / 3),  # a swap is two substitutions
])
def test_digit_error_rate_cases(hyp, ref, der):
    assert audio_metrics.digit_error_rate(hyp, ref) == pytest.approx(der)


def test_digit_error_rate_is_a_corpus_ratio():
    # 1 edit in a 4-digit reference + 0 in a 1-digit one = 1 / 5, not the mean of 1/4 and 0
    assert audio_metrics.digit_error_rate(["1235", "7"], ["1234", "7"]) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        audio_metrics.digit_error_rate(["1"], ["1", "2"])
    with pytest.raises(ValueError, match="empty"):
        audio_metrics.digit_error_rate([""], [""])


def test_diagonality_of_diagonal_uniform_and_stuck_alignments():
    for t, n in [(20, 20), (40, 20), (33, 17)]:
        diag = torch.zeros(t, n)
        diag[torch.arange(t), (torch.arange(t) * n) // t] = 1.0
        assert audio_metrics.alignment_diagonality(diag) == pytest.approx(1.0)
    uniform = torch.full((200, 100), 1 / 100)
    b = 0.2
    assert audio_metrics.alignment_diagonality(uniform, b) == pytest.approx(2 * b - b * b, abs=0.01)
    stuck = torch.zeros(40, 20)
    stuck[:, 0] = 1.0
    assert audio_metrics.alignment_diagonality(stuck) < 0.25
    with pytest.raises(ValueError):
        audio_metrics.alignment_diagonality(torch.zeros(3, 3))


# --------------------------------------------------------------------------------------------
# CTC judge
# --------------------------------------------------------------------------------------------
def test_ctc_collapse_and_greedy_decoding():
    assert sr.ctc_collapse([0, 4, 4, 0, 4, 9, 9, 0]) == [4, 4, 9]
    assert sr.ctc_collapse([4, 4, 4]) == [4]
    path = torch.tensor([[0, 4, 4, 0, 4, 9, 0, 2], [3, 3, 0, 0, 0, 0, 0, 0]])
    log_probs = F.one_hot(path, sr.N_LABELS).float().log_softmax(-1)
    assert sr.ctc_greedy_decode(log_probs) == ["3381", "2"]
    assert sr.ctc_greedy_decode(log_probs, torch.tensor([5, 8])) == ["33", "2"]
    assert sr.digits_to_labels("09") == [1, 10]


def test_recognizer_shapes_and_loudness_invariance():
    torch.manual_seed(0)
    model = sr.DigitRecognizer(CFG.n_mels, channels=16, dilations=(1, 2)).eval()
    waves = [_tone(0.5), _tone(0.3, 330.0)]
    logmel, lengths = sr.waveform_batch(waves, CFG)
    assert logmel.shape == (2, CFG.n_mels, ac_audio.n_frames(4000 + CFG.n_fft // 2, CFG))  # zeros after every clip
    assert lengths.tolist() == [41, 25]
    log_probs, out_lengths = model(logmel, lengths)
    assert log_probs.shape == (2, 11, sr.N_LABELS) and out_lengths.tolist() == [11, 7]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 11), atol=1e-5)
    quiet, _ = sr.waveform_batch([w * 0.1 for w in waves], CFG)
    with torch.no_grad():
        a = model(logmel, lengths)[0]
        b = model(quiet, lengths)[0]
    assert torch.allclose(a, b, atol=1e-4), "the judge must not depend on the recording level"
    loss = sr.ctc_loss(model.train(), logmel, lengths, ["3", "81"])
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert len(sr.transcribe(model, waves, CFG)) == 2


def test_a_clips_transcription_does_not_depend_on_the_rest_of_its_batch():
    torch.manual_seed(0)
    model = sr.DigitRecognizer(CFG.n_mels, channels=16, dilations=(1, 2, 4, 8))
    with torch.no_grad():  # non-trivial BatchNorm statistics, as after training
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.5, 0.5)
    model.eval()
    rng = np.random.default_rng(0)
    waves = [_tone(d, f) + 0.05 * rng.standard_normal(int(d * CFG.sample_rate)).astype(np.float32)
             for d, f in ((0.41, 220.0), (0.77, 330.0), (0.3, 500.0), (1.23, 180.0))]
    with torch.no_grad():
        batched, lengths = model(*sr.waveform_batch(waves, CFG))
        for i, wave in enumerate(waves):  # alone, it is the longest clip: no padding from other clips
            alone, length = model(*sr.waveform_batch([wave], CFG))
            n = int(lengths[i])
            assert int(length[0]) == n
            assert torch.allclose(alone[0, :n], batched[i, :n], atol=1e-5), f"clip {i} changes with its batch"
    assert sr.transcribe(model, waves, CFG, batch=4) == sr.transcribe(model, waves, CFG, batch=1)


def test_judge_batches_have_matching_labels(mirror, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_DATA", str(mirror))
    data = sr.JudgeData.load(CFG, "test")
    assert sorted(data.raw) == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    assert all(len(data.raw[s][d]) == 5 for s in data.raw for d in range(10))
    waves, labels = sr.judge_batch(data, 16, np.random.default_rng(0), CFG)
    assert len(waves) == len(labels) == 16 and all(1 <= len(lab) <= 4 for lab in labels)
    without = sr.JudgeData.load(CFG, "test", exclude_speakers=("lucas",))
    assert "lucas" not in without.raw and "lucas" not in without.trimmed and len(without.raw) == 5


def test_judge_validation_holds_out_train_recordings_and_never_reads_the_test_set(with_mirror, monkeypatch):
    """The judge's settings are chosen on train recordings 5–9 (VAL_INDICES), with those recordings out of its
    training data and the test recordings (0–4) not scored at all."""
    held = sr.JudgeData.load(CFG, "train", exclude_speakers=("lucas",), skip_indices=sr.VAL_INDICES)
    assert all(len(held.raw[s][d]) == 50 - 5 - len(sr.VAL_INDICES) for s in held.raw for d in range(10))
    assert set(sr.VAL_INDICES).isdisjoint(range(5))  # never a test recording
    read: list[str] = []
    real_load = sr.load_fsdd
    monkeypatch.setattr(sr, "load_fsdd", lambda split="train", **kw: read.append(split) or real_load(split, **kw))
    judge = sr.train_recognizer("smoke", device=torch.device("cpu"), validation=True, overrides={"steps": 10})
    assert "test" not in read
    assert np.isnan(judge.test_accuracy) and 0.0 <= judge.val_accuracy <= 1.0
    assert set(judge.unseen_by_speaker) == {"lucas"}
    final = sr.train_recognizer("smoke", device=torch.device("cpu"), overrides={"steps": 10})
    assert final.trained.path != judge.trained.path, "a validation judge must not stand in for the real one"
    assert np.isnan(final.val_accuracy) and 0.0 <= final.test_accuracy <= 1.0
    with pytest.raises(config.ConfigError, match="no setting 'step'"):
        sr.train_recognizer("smoke", overrides={"step": 10})


def test_judge_never_hears_the_tts_speaker():
    judge_hp = config.component("digit_recognizer", "fast")
    assert tuple(judge_hp.exclude_speakers) == (config.CHAPTERS["10_text_to_speech"].hparams("fast").speaker,)


def test_augmentations_keep_shapes():
    wave = _tone(0.5)
    assert len(sr.speed_perturb(wave, 1.25)) == pytest.approx(len(wave) / 1.25, abs=1)
    assert np.allclose(sr.speed_perturb(wave, 1.0), wave[:-1])
    x = torch.arange(8.0).view(1, 8, 1).repeat(2, 1, 3)
    warped = sr.mel_warp(x, [1.0, 0.5])
    assert torch.equal(warped[0], x[0]) and warped[1, :, 0].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]


def test_dtw_log_mel_distance_against_brute_force():
    def brute(a, b):
        c = np.sqrt((((a.T[:, None] - b.T[None]) * 20 / np.log(10)) ** 2).mean(-1))
        d = np.full(c.shape, np.inf)
        for i in range(c.shape[0]):
            for j in range(c.shape[1]):
                if i == j == 0:
                    d[i, j] = 2 * c[0, 0]
                    continue
                d[i, j] = min(d[i - 1, j - 1] + 2 * c[i, j] if i and j else np.inf,
                              d[i - 1, j] + c[i, j] if i else np.inf, d[i, j - 1] + c[i, j] if j else np.inf)
        return d[-1, -1] / sum(c.shape)

    rng = np.random.default_rng(0)
    for _ in range(6):
        a, b = rng.normal(size=(4, int(rng.integers(1, 9)))), rng.normal(size=(4, int(rng.integers(1, 9))))
        assert audio_metrics.dtw_log_mel_distance(a, b) == pytest.approx(brute(a, b))
    a = rng.normal(size=(4, 7))
    assert audio_metrics.dtw_log_mel_distance(a, a) == 0.0
    assert audio_metrics.dtw_log_mel_distance(a, np.repeat(a, 2, axis=1)) == 0.0  # a slower copy: same frames
    flat = np.zeros((4, 5))
    assert audio_metrics.dtw_log_mel_distance(flat, flat + 1.0) == pytest.approx(20 / np.log(10))  # 1 nat = 8.69 dB
    with pytest.raises(ValueError, match="n_mels"):
        audio_metrics.dtw_log_mel_distance(a, rng.normal(size=(3, 7)))


# --------------------------------------------------------------------------------------------
# Audio features
# --------------------------------------------------------------------------------------------
def test_mel_scale_and_frame_count():
    assert ac_audio.hz_to_mel(0.0) == pytest.approx(0.0)
    assert ac_audio.hz_to_mel(700.0) == pytest.approx(2595 * math.log10(2))
    f = np.array([0.0, 100.0, 1000.0, 3999.0])
    assert np.allclose(ac_audio.mel_to_hz(ac_audio.hz_to_mel(f)), f)
    fb = ac_audio.mel_filterbank(CFG)
    assert fb.shape == (CFG.n_freqs, CFG.n_mels) and bool((fb.sum(0) > 0).all())
    x = _tone(0.37)
    assert ac_audio.log_mel(x, CFG).shape == (CFG.n_mels, 1 + len(x) // CFG.hop_length)
    assert ac_audio.stft_magnitude(x, CFG).shape == (CFG.n_freqs, ac_audio.n_frames(len(x), CFG))


def test_griffin_lim_round_trip():
    x = _tone(0.6)
    logmel = ac_audio.log_mel(x, CFG)
    y = ac_audio.griffin_lim(logmel, CFG, n_iter=32)
    assert y.shape == ((logmel.shape[1] - 1) * CFG.hop_length,) and float(y.abs().max()) <= 1.0
    again = ac_audio.log_mel(y, CFG)
    sc = ac_audio.spectral_convergence(logmel.exp(), again.exp())
    assert sc < 0.35, f"Griffin-Lim lost too much: mel spectral convergence {sc:.3f}"
    noise = ac_audio.log_mel(np.random.default_rng(0).standard_normal(len(x)).astype(np.float32) * 0.1, CFG)
    assert ac_audio.spectral_convergence(logmel.exp(), noise.exp()) > sc


def test_trim_normalise_and_wav_round_trip(tmp_path):
    x = np.concatenate([np.zeros(800, np.float32), _tone(0.3), np.zeros(1000, np.float32)])
    trimmed = ac_audio.trim_silence(x, frame=100)
    assert len(trimmed) % 100 == 0 and len(trimmed) < len(x) - 1500
    peak = ac_audio.peak_normalize(trimmed, 0.9)
    assert np.abs(peak).max() == pytest.approx(0.9)
    path = ac_audio.write_wav(tmp_path / "a" / "x.wav", peak, 8000)
    back, rate = ac_audio.read_wav(path)
    assert rate == 8000 and back.shape == peak.shape and np.abs(back - peak).max() <= 1 / 32768 + 1e-7
    assert ac_audio.play(peak, 8000) is not None


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------
def test_char_durations_and_concatenation():
    d = tts.char_durations("21", [13, 7], [4], 2)  # "two one~": two=13 frames over 3 letters, gap 4, one=7, tail 2
    assert d.tolist() == [5, 4, 4, 4, 3, 2, 2, 2] and d.sum() == 13 + 4 + 7 + 2
    wav, frames = tts.concatenate([np.ones(300, np.float32), np.ones(200, np.float32)], [2], 100, tail=1)
    assert frames == [3, 2] and len(wav) == 800 and wav[300:500].sum() == 0 and wav[-100:].sum() == 0
    with pytest.raises(ValueError, match="multiple of the hop"):
        tts.concatenate([np.ones(150, np.float32)], [], 100)


def test_utterances_have_exact_durations():
    rng = np.random.default_rng(0)
    clips = _fake_clips(rng)
    for digits in ["7", "381", "0000"]:
        utt = tts.make_utterance(digits, clips, rng, CFG, gap_frames=(3, 5), tail_frames=2)
        assert utt.text == tts.digits_to_text(digits)
        assert len(utt.durations) == len(utt.text) + 1 and int(utt.durations.sum()) == utt.frames
        assert tts.utterance_log_mel(utt.audio, CFG).shape == (CFG.n_mels, utt.frames)
    batch = tts.sample_batch(clips, 4, rng, CFG, exclude=frozenset({"1"}))
    assert batch.mels.shape[:2] == (4, CFG.n_mels) and batch.text.shape == batch.durations.shape
    assert (batch.durations.sum(1) == batch.mel_lengths).all()
    assert len({len(u.digits) for u in batch.utterances}) == 1


def test_heldout_sequences_are_distinct_and_excluded_from_training():
    held = tts.heldout_sequences(30, (2, 3, 4), seed=3)
    assert len(set(held)) == 30 and all(2 <= len(h) <= 4 for h in held)
    assert held == tts.heldout_sequences(30, (2, 3, 4), seed=3)
    rng = np.random.default_rng(0)
    exclude = frozenset(held)
    assert all(tts.sample_digits(rng, len(h), exclude) not in exclude for h in held for _ in range(5))


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
def _batch(rng: np.random.Generator) -> tts.Batch:
    return tts.collate([tts.make_utterance(d, _fake_clips(rng), rng, CFG) for d in ["12", "905"]], CFG)


def test_length_regulator():
    enc = torch.arange(6.0).view(1, 3, 2)
    frames, lengths, frac = tts.length_regulate(enc, torch.tensor([[2, 0, 3]]))
    assert lengths.tolist() == [5] and frames[0, :, 0].tolist() == [0, 0, 4, 4, 4]
    assert torch.allclose(frac[0], torch.tensor([0, 0.5, 0, 1 / 3, 2 / 3]))


def test_duration_model_shapes():
    torch.manual_seed(0)
    b = _batch(np.random.default_rng(1))
    model = tts.DurationTTS(CFG.n_mels, -2.0, 3.0, dim=16)
    mel, log_d, lengths = model(b.text, b.text_lengths, b.durations)
    assert mel.shape == b.mels.shape and log_d.shape == b.text.shape and torch.equal(lengths, b.mel_lengths)
    out = model.infer(tts.encode_text("one two"))
    assert out["mel"].shape[0] == CFG.n_mels and out["mel"].shape[1] == int(out["durations"].sum())


def test_tacotron_shapes_and_losses():
    torch.manual_seed(0)
    b = _batch(np.random.default_rng(2))
    model = tts.Tacotron(CFG.n_mels, -2.0, 3.0, enc_dim=16, prenet_dim=16, rnn_dim=32, attn_dim=16, loc_filters=4,
                         loc_kernel=5, postnet_dim=16)
    mels = tts.pad_to_multiple(b.mels, 2, CFG.log_floor)
    out = model(b.text, b.text_lengths, mels)
    steps = mels.shape[-1] // 2
    assert out["mel"].shape == out["mel_post"].shape == mels.shape
    assert out["stop"].shape == (2, steps) and out["alignments"].shape == (2, steps, b.text.shape[1])
    assert torch.allclose(out["alignments"].sum(-1), torch.ones(2, steps), atol=1e-5)
    assert float(out["alignments"][0, :, b.text_lengths[0]:].detach().sum()) == 0.0, "no attention on padding"
    ga = tts.guided_attention_loss(out["alignments"], b.text_lengths, (b.mel_lengths + 1) // 2)
    assert 0 < ga.item() < 1
    targets = tts.stop_targets(torch.tensor([5, 4]), 4, 2)
    assert targets.tolist() == [[0, 0, 1, 1], [0, 1, 1, 1]]
    with pytest.raises(ValueError, match="multiple of r"):
        model(b.text, b.text_lengths, mels[..., :-1])


def test_guided_attention_weights():
    w = tts.guided_attention_weights(10, 20, 0.2)
    assert w.shape == (20, 10) and float(w[0, 0]) == 0.0 and float(w[10, 5]) == pytest.approx(0.0, abs=1e-6)
    assert float(w[19, 0]) > 0.99


def test_location_sensitive_energy_by_hand():
    torch.manual_seed(0)
    att = tts.LocationSensitiveAttention(8, 6, attn_dim=5, n_filters=3, kernel=3)
    q, h = torch.randn(1, 8), torch.randn(1, 4, 6)
    prev = torch.softmax(torch.randn(1, 4), -1)
    cat = torch.stack([prev, prev], 1)
    e = att.energies(q, att.memory(h), cat)
    f = F.conv1d(cat, att.location_conv.weight, padding=1)[0].T  # (N, filters)
    by_hand = torch.stack([att.v.weight[0] @ torch.tanh(att.query.weight @ q[0] + att.query.bias
                                                         + att.memory.weight @ h[0, j] + att.location.weight @ f[j])
                           for j in range(4)])
    assert torch.allclose(e[0], by_hand, atol=1e-5)


def test_tacotron_reports_reaching_max_decoder_steps():
    torch.manual_seed(0)
    model = tts.Tacotron(CFG.n_mels, -2.0, 3.0, enc_dim=16, prenet_dim=16, rnn_dim=32, attn_dim=16, loc_filters=4,
                         loc_kernel=5, postnet_dim=16)
    with torch.no_grad():
        model.stop_proj.bias.fill_(-50.0)  # the stop token never fires
    with pytest.warns(UserWarning, match="reached max decoder steps"):
        out = model.infer(tts.encode_text("one"), max_decoder_steps=7)
    assert out["reached_max"] is True and out["steps"] == 7 and out["mel"].shape == (CFG.n_mels, 14)
    with torch.no_grad():
        model.stop_proj.bias.fill_(50.0)  # fires at once (after min_steps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model.infer(tts.encode_text("one"), max_decoder_steps=7)
    assert out["reached_max"] is False and out["steps"] == 2 and out["alignment"].shape == (2, 4)


@torch.no_grad()
def test_vocoder_shapes_and_losses():
    torch.manual_seed(0)
    gen = vocoder.Generator(CFG.n_mels, -2.0, 3.0, channels=16, upsample=(5, 5, 4))
    mel = torch.randn(2, CFG.n_mels, 7)
    wav = gen(mel)
    assert wav.shape == (2, 1, 7 * 100) and float(wav.abs().max()) <= 1.0
    discs = vocoder.Discriminators(periods=(2, 3), scales=2, channels=(4, 8))
    scores, feats = discs(wav)
    assert len(scores) == len(feats) == 4 and all(s.ndim == 2 and s.shape[0] == 2 for s in scores)
    real = torch.randn(2, 1, 700) * 0.1
    assert float(vocoder.multi_resolution_stft_loss(real, real)) == pytest.approx(0.0, abs=1e-6)
    assert float(vocoder.multi_resolution_stft_loss(wav, real)) > 0
    rs, rf = discs(real)
    assert float(vocoder.discriminator_loss(rs, scores)) >= 0 and float(vocoder.generator_adversarial_loss(scores)) >= 0
    assert float(vocoder.feature_matching_loss(rf, feats)) > 0


# --------------------------------------------------------------------------------------------
# Widget function and profile table
# --------------------------------------------------------------------------------------------
class _FakeJudge:
    def transcribe(self, waves):
        return ["42" for _ in waves]


def test_synthesize_with_both_models():
    torch.manual_seed(0)
    taco = tts.Tacotron(CFG.n_mels, -2.0, 3.0, enc_dim=16, prenet_dim=16, rnn_dim=32, attn_dim=16, loc_filters=4,
                        loc_kernel=5, postnet_dim=16)
    with torch.no_grad():
        taco.stop_proj.bias.fill_(50.0)
    out = tts_widgets.synthesize("4 two", taco, CFG, judge=_FakeJudge(), griffin_lim_iters=4)
    assert out["text"] == "four two" and out["digits"] == "42" and out["recognised"] == "42"
    assert out["alignment"].shape == (2, len("four two") + 1) and out["vocoder"] == "griffin-lim"
    assert out["audio"].dtype == np.float32 and len(out["audio"]) == (out["mel"].shape[1] - 1) * CFG.hop_length
    dur = tts.DurationTTS(CFG.n_mels, -2.0, 3.0, dim=16)
    gen = vocoder.Generator(CFG.n_mels, -2.0, 3.0, channels=8)
    out = tts_widgets.synthesize("7", dur, CFG, vocoder=gen)
    assert out["vocoder"] == "gan" and len(out["audio"]) == out["mel"].shape[1] * 100
    assert out["alignment"].shape == (out["mel"].shape[1], len("seven") + 1) and out["recognised"] is None
    player, fig = tts_widgets.show_synthesis(out, CFG, show=False)
    assert player is not None and fig is not None
    with pytest.raises(tts.UnsupportedTextError, match="'#'"):
        tts_widgets.synthesize("#1", dur, CFG)
    with pytest.raises(ValueError, match="too long"):
        tts_widgets.synthesize("123456789", dur, CFG, max_digits=8)
    assert tts_widgets.tts_demo(dur, CFG) is not None


def test_profile_rows():
    spec = config.CHAPTERS["10_text_to_speech"]
    for profile in config.PROFILES:
        hp = spec.hparams(profile)
        assert hp.hop_length == math.prod(hp.voc_upsample), "the vocoder must upsample one frame to one hop"
        assert hp.r == 2
    judge = config.component("digit_recognizer", "fast")
    assert spec.hparams("fast").n_mels == judge.n_mels and spec.hparams("fast").hop_length == judge.hop_length
    assert config.parse_condition(spec.targets["fast"]["tacotron_der"]) == ("<=", 0.25)
    assert config.parse_condition(spec.targets["full"]["tacotron_der"]) == ("<=", 0.1)
