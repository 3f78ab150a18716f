"""Bad input to the command line: a clear error that names the problem and the fix, and nothing lost."""

import json
import os
from pathlib import Path

import pytest

from aigc_course import cli
from aigc_course.core import config, paths
from aigc_course.delivery import student
from aigc_course.delivery.runner import guard_output


@pytest.mark.parametrize("argv", [["run", "--only", ","], ["run", "--only", ""], ["build", "--student", "--only", ","],
                                  ["exercises", "--only", ""], ["slides", ","]])
def test_an_empty_only_is_an_error_not_everything(argv, capsys, tmp_path):
    if argv[0] in ("build", "slides"):
        argv = argv + ["--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    assert "no notebook named" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_refuses_an_output_folder_over_the_source_notebooks(tmp_path, monkeypatch, capsys):
    root = paths.project_root()
    assert cli.main(["run", "--only", "00", "--out", str(root)]) == 2  # `--out .` in the checkout
    assert "over the source notebooks" in capsys.readouterr().err
    monkeypatch.setenv("AIGC_COURSE_BUILD", str(root / "notebooks" / "out"))
    assert cli.main(["run", "--only", "00"]) == 2
    assert "AIGC_COURSE_BUILD" in capsys.readouterr().err
    books = [tmp_path / "nb" / "00_x.ipynb"]
    with pytest.raises(ValueError, match="source notebooks"):
        guard_output(tmp_path / "nb", books)
    with pytest.raises(ValueError, match="source notebooks"):
        guard_output(tmp_path / "nb" / "sub", books)  # inside the sources
    with pytest.raises(ValueError, match="source notebooks"):
        guard_output(tmp_path, [tmp_path / "notebooks" / "00_x.ipynb"])  # <out>/notebooks is the sources
    guard_output(tmp_path / "build", books)  # elsewhere: fine


def test_a_bad_device_names_the_variable(monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_DEVICE", "gpu")
    with pytest.raises(config.ConfigError, match="AIGC_COURSE_DEVICE is 'gpu'.*cpu, cuda"):
        config.resolve_device()
    with pytest.raises(config.ConfigError, match="requested device"):
        config.resolve_device("tpu")


def test_slides_from_a_missing_build_is_an_error(tmp_path, capsys):
    assert cli.main(["slides", "--build", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2
    assert "is not a folder" in capsys.readouterr().err and not (tmp_path / "s").exists()


def test_build_never_overwrites_sources_or_work(tmp_path):
    source = paths.notebooks_dir()
    with pytest.raises(ValueError, match="folder of the source notebooks"):
        student.build("student", ["00"], out=source)
    out = tmp_path / "handout"
    first = student.build("student", ["00", "01"], out=out)
    assert [p.name for p in first] == ["00_welcome.ipynb", "01_neural_networks.ipynb"]
    assert student.build("student", ["00", "01"], out=out) == first  # identical copies: nothing to lose
    work = json.loads(first[1].read_text(encoding="utf-8"))
    work["cells"][0]["source"] = ["my notes\n"]
    first[1].write_text(json.dumps(work), encoding="utf-8")
    before = first[1].read_text(encoding="utf-8")
    first[0].unlink()
    with pytest.raises(ValueError, match="01_neural_networks.ipynb.*--force"):
        student.build("student", ["00", "01"], out=out)
    assert first[1].read_text(encoding="utf-8") == before and not first[0].exists()  # refused before any write
    assert cli.main(["build", "--student", "--only", "00,01", "--out", str(out)]) == 2
    assert cli.main(["build", "--student", "--only", "00,01", "--out", str(out), "--force"]) == 0
    assert first[1].read_text(encoding="utf-8") != before and first[0].exists()


def test_names_may_follow_options(capsys):
    mirror = os.environ.get("AIGC_COURSE_DATA")
    if not mirror or not Path(mirror).is_dir():
        pytest.skip("needs the dataset mirror (AIGC_COURSE_DATA)")
    from aigc_course.datasets import registry

    name = sorted(registry.DATASETS)[0]
    assert cli.main(["data", "verify", "--root", mirror, name]) == 0
    assert f"({len(registry.get(name).files)} files checked)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["data", "verify", "--root", mirror, "--bogus"])
    with pytest.raises(SystemExit):
        cli.main(["doctor", "extra"])


def test_an_unwritable_checkpoint_folder_is_found_before_training(tmp_path):
    import torch

    from aigc_course.core import training

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    trained = []

    def train(model, session):
        trained.append(1)

    with pytest.raises(training.CheckpointError, match=r"a_file.*AIGC_COURSE_CHECKPOINTS"):
        training.load_or_train("probe", {"x": 1}, lambda _: torch.nn.Linear(1, 1), train, folder=blocker / "ck")
    assert trained == []  # refused before a single step


def test_an_output_folder_that_is_a_file_is_an_error(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert cli.main(["run", "--only", "00", "--out", str(blocker)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert cli.main(["build", "--student", "--only", "00", "--out", str(blocker / "sub")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"


def test_the_doctor_reports_bad_settings_instead_of_aborting(monkeypatch, capsys):
    monkeypatch.setenv("AIGC_COURSE_DEVICE", "gpu")
    monkeypatch.setenv("AIGC_COURSE_PROFILE", "quick")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM: AIGC_COURSE_DEVICE is 'gpu'" in out and "PROBLEM: AIGC_COURSE_PROFILE is 'quick'" in out
    assert "datasets:" in out and "checkpoints" in out  # the rest of the report is still there


def test_sentiment_warns_when_a_text_has_no_known_word():
    import warnings

    from aigc_course.apps import sentiment
    from aigc_course.models import text_classifiers as tc
    from aigc_course.models.text_tokenize import TfidfFeaturizer, WordTokenizer

    encoder = TfidfFeaturizer.fit(["stocks rally on earnings", "shares fall after earnings"], min_df=1)
    model = sentiment.SentimentModel("tfidf", encoder, tc.TfidfLogisticRegression(len(encoder)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(["stocks rally"])  # a known word: no warning
    with pytest.warns(UserWarning, match=r"1 of 2 texts contain no word the model knows.*texts\[1\]"):
        probs = model.predict(["stocks rally", "股票大涨"])
    assert probs.shape == (2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one unknown text among many evaluated ones: expected, no warning
        model.predict(["stocks rally"] * 40 + ["股票大涨"])
    with pytest.warns(UserWarning, match="10 of 50"):
        model.predict(["stocks rally"] * 40 + ["股票大涨"] * 10)
    tok = WordTokenizer(["<pad>", "<unk>", "stocks", "rally"])
    assert sentiment.knows_a_word(tok, "stocks!") and not sentiment.knows_a_word(tok, "股票 大涨")


def test_long_tts_input_is_not_echoed_back_in_full():
    from aigc_course.models import tts

    page = "Lorem ipsum dolor sit amet; " * 400  # a pasted page
    with pytest.raises(tts.UnsupportedTextError) as err:
        tts.normalize_text(page)
    message = str(err.value)
    assert len(message) < 400 and "(11,200 characters)" in message and "';' (U+003B)" in message
    with pytest.raises(tts.UnsupportedTextError, match=r"unsupported word 'Lorem' in 'Lorem ipsum"):
        tts.normalize_text("Lorem ipsum " * 300)
    with pytest.raises(tts.UnsupportedTextError, match="'3 x'"):  # short input: quoted whole, as before
        tts.normalize_text("3 x")


def test_unknown_recommendation_users_get_a_clear_error():
    import numpy as np
    import torch

    from aigc_course.models import recsys

    mf = recsys.BPRMF(3, 5, 4)
    assert mf.score_all(torch.tensor([0, 2])).shape == (2, 5)
    with pytest.raises(ValueError, match=r"user index 7 is outside 0..2.*user_index"):
        mf.score_all(torch.tensor([0, 7]))
    text = recsys.TextHistoryRecommender(3, np.zeros((5, 2), np.float32), 4, 2, 0.5)
    with pytest.raises(ValueError, match="user index -1"):
        text.score_all(torch.tensor([-1]), torch.full((1, 2), 5))
    empty = np.array([], dtype=np.int64)
    data = recsys.RecData(3, 5, np.arange(5), empty, empty, [], empty, empty, np.array([1, 4, 9]))
    assert data.user_index(4) == 1
    with pytest.raises(ValueError, match=r"MovieLens user 5 is not in this data.*1..9"):
        data.user_index(5)
    with pytest.raises(ValueError, match="MovieLens user 10"):
        data.user_index(10)


def test_stray_files_in_fsdd_are_named_and_never_change_a_split(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import numpy as np
    import soundfile as sf

    from aigc_course.datasets import audio

    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    listed = ["0_anna_0.wav", "1_anna_7.wav"]
    for name in [*listed, "2_newcomer_3.wav"]:  # the last one is a real clip the manifest does not list
        sf.write(rec / name, np.zeros(800, np.float32), 8000)
    (rec / "._0_anna_0.wav").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    monkeypatch.setattr(audio, "dataset_dir", lambda name: tmp_path / "fsdd")
    monkeypatch.setattr(audio, "get", lambda name: SimpleNamespace(files={f"fsdd/recordings/{n}": "" for n in listed}))
    with pytest.warns(UserWarning, match=r"ignored 2 file\(s\) not in the FSDD manifest: ._0_anna_0.wav, "
                                         r"2_newcomer_3.wav"):
        test = audio.load_fsdd("test")
    assert [(c.digit, c.speaker, c.index) for c in test] == [(0, "anna", 0)]  # the newcomer's index 3 stays out
    with pytest.warns(UserWarning):
        assert [(c.digit, c.index) for c in audio.load_fsdd("train")] == [(1, 7)]


def test_a_checkpoint_records_its_config_and_refuses_another(tmp_path):
    import torch

    from aigc_course.core import training

    runs = []

    def train(model, session):
        runs.append(1)
        with torch.no_grad():
            model.weight.fill_(float(len(runs)))

    def build(_):
        return torch.nn.Linear(1, 1)

    first = training.load_or_train("probe", {"lr": 0.1}, build, train, folder=tmp_path)
    assert training.load_checkpoint(first.path)["config_json"] == training.config_json({"name": "probe", "lr": 0.1})
    assert training.load_or_train("probe", {"lr": 0.1}, build, train, folder=tmp_path).loaded  # same config: loaded
    # a checkpoint of another config copied over this config's file name (by hand, or a hash collision)
    other = training.load_or_train("probe", {"lr": 0.5}, build, train, folder=tmp_path)
    other.path.replace(first.path)
    with pytest.warns(UserWarning, match=r"trained with another config \(differs in lr\).*other-config"):
        again = training.load_or_train("probe", {"lr": 0.1}, build, train, folder=tmp_path)
    assert not again.loaded and len(runs) == 3  # refused: trained for its own config
    aside = first.path.with_name(first.path.name.replace(".pt", ".other-config.pt"))
    assert training.load_checkpoint(aside)["config_json"] == training.config_json({"name": "probe", "lr": 0.5})
