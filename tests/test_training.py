"""Tests of the training lab: TinyCLIP, the torch loss, train_contrastive, experiments, monitor.

Runs are kept small (32-pixel images, a few hundred pairs, a few epochs, one
thread) so the file finishes in well under a minute on two busy cores.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.data import SyntheticShapes

torch = pytest.importorskip("torch")

from amumo.models.tiny import (  # noqa: E402
    TinyCLIP,
    TinyCLIPConfig,
    tiny_shapes,
    tokenize,
    weights_path,
)
from amumo.training import (  # noqa: E402
    TrainingMonitor,
    clip_loss,
    cone_effect,
    embedding_shift,
    temperature_sweep,
    train_contrastive,
)
from amumo.training.trainer import RECORD_COLUMNS  # noqa: E402

pytestmark = pytest.mark.models

SHORT = {"epochs": 3, "probe": 64, "batch_size": 96}


@pytest.fixture(scope="module")
def shapes() -> SyntheticShapes:
    return SyntheticShapes(360, seed=0, image_size=32)


@pytest.fixture(scope="module")
def short_run(shapes):
    return train_contrastive(shapes, temperature=0.01, seed=0, **SHORT)


def _records_without_time(history) -> pd.DataFrame:
    return history.to_frame().drop(columns="seconds")


# --------------------------------------------------------------------------- imports and loss
def test_import_amumo_does_not_import_torch():
    code = (
        "import sys, amumo, amumo.training, amumo.models.tiny, amumo.training.experiments, "
        "amumo.training.monitor\n"
        "assert amumo.models.tiny_shapes\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("temperature", [0.01, 0.07, 1.0])
def test_torch_loss_equals_analysis_info_nce(temperature):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 16)), rng.normal(size=(40, 16))
    y[:20] += 2 * x[:20]  # some signal, so the loss is not just log N
    emb = am.Embeddings.from_arrays({"image": x, "text": y})
    expected = am.losses.info_nce(emb, temperature)
    # Embeddings stores float32 unit rows; on those numbers (re-normalised in float64 by
    # clip_loss) both agree to ~1e-8 relative even at τ = 0.01
    rows = {m: torch.from_numpy(emb[m].astype(np.float64)) for m in emb.modalities}
    got = float(clip_loss(rows["image"], rows["text"], temperature))
    assert got == pytest.approx(expected, rel=2e-8)
    # raw float32 tower outputs, as in training, agree to float32 precision
    got32 = float(clip_loss(torch.from_numpy(x).float(), torch.from_numpy(y).float(), temperature))
    assert got32 == pytest.approx(expected, rel=1e-4)


def test_torch_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        clip_loss(torch.zeros(3, 4), torch.zeros(2, 4), 0.1)


# --------------------------------------------------------------------------- model
def test_tokenize_pads_and_reports_unknown_words():
    ids, unknown = tokenize(["A red circle.", "a pink circle in the middle", ""],
                            ["a", "circle", "red"])
    assert ids.shape == (3, 6)
    assert ids[0].tolist() == [2, 4, 3, 0, 0, 0]
    assert ids[2].tolist() == [1, 0, 0, 0, 0, 0]
    assert unknown == ["pink", "in", "the", "middle"]
    with pytest.raises(TypeError, match="single string"):
        tokenize("a red circle", ["a"])


def test_config_validation():
    with pytest.raises(ValueError, match="vocabulary is empty"):
        TinyCLIPConfig(())
    with pytest.raises(ValueError, match="image_size=0"):
        TinyCLIPConfig(("a",), image_size=0)
    with pytest.raises(ValueError, match="lower-case alphanumeric"):
        TinyCLIPConfig(("Red",))
    with pytest.raises(ValueError, match="divisible"):
        TinyCLIPConfig(("a",), text_width=30, text_heads=4)
    with pytest.raises(ValueError, match="unknown TinyCLIPConfig fields"):
        TinyCLIPConfig.from_dict({"vocabulary": ["a"], "depth": 3})


def test_encoder_protocol_and_inputs(shapes):
    enc = TinyCLIP(TinyCLIPConfig(TinyCLIPConfig.vocabulary_from(shapes.captions), image_size=32))
    assert isinstance(enc, am.models.Encoder)
    assert enc.modalities == ("image", "text")
    pil = [shapes.item("image", i) for i in range(5)]
    from_pil = enc.encode("image", pil, batch_size=2)
    from_array = enc.encode("image", shapes.images(range(5)))
    assert from_pil.dtype == np.float32 and from_pil.shape == (5, 64)
    np.testing.assert_allclose(from_pil, from_array, atol=1e-6)
    # other sizes are resized to the model's image_size
    big = SyntheticShapes(5, seed=0, image_size=64).images()
    assert enc.encode("image", big).shape == (5, 64)
    text = enc.encode("text", shapes.captions[:5])
    assert text.shape == (5, 64) and np.isfinite(text).all()
    with pytest.warns(UserWarning, match="'hexagon'"):
        enc.encode("text", ["a red hexagon"])
    with pytest.raises(ValueError, match="modality='audio'"):
        enc.encode("audio", [1])
    with pytest.raises(TypeError, match="uint8"):
        enc.encode("image", [np.zeros((32, 32, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match="batch_size"):
        enc.encode("text", ["a"], batch_size=0)


def test_random_init_is_seeded():
    config = TinyCLIPConfig(("a", "red"), image_size=32)
    a, b, c = TinyCLIP(config, seed=1), TinyCLIP(config, seed=1), TinyCLIP(config, seed=2)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    state = torch.random.get_rng_state()
    TinyCLIP(config, seed=5)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched


def test_save_load_round_trip(tmp_path, short_run, shapes):
    enc = short_run.model
    path = enc.save(tmp_path / "m.npz")
    loaded = TinyCLIP.load(path)
    assert loaded.fingerprint == enc.fingerprint
    assert loaded.name == enc.name
    assert loaded.info["training"]["temperature"] == 0.01
    np.testing.assert_array_equal(
        loaded.encode("text", shapes.captions[:8]), enc.encode("text", shapes.captions[:8])
    )
    with pytest.raises(ValueError, match=r"\.npz"):
        enc.save(tmp_path / "m.pt")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable TinyCLIP checkpoint"):
        TinyCLIP.load(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError):
        TinyCLIP.load(tmp_path / "missing.npz")


# --------------------------------------------------------------------------- training
def test_history_contents(short_run, shapes):
    history = short_run
    frame = pd.DataFrame(history)
    assert list(frame.columns) == list(RECORD_COLUMNS)
    assert frame["epoch"].tolist() == [0, 1, 2, 3]
    assert history.to_frame().index.name == "epoch"
    assert len(history.probes) == 4
    assert all(len(p) == 64 for p in history.probes)
    assert set(history.probe_indices).isdisjoint(history.train_indices)
    assert len(history.probe_indices) + len(history.train_indices) == len(shapes)
    first = history.probes[0]
    assert first.meta["caption"].tolist() == [shapes.captions[i] for i in history.probe_indices]
    # the recorded numbers are amumo.analysis metrics of the probe embeddings
    last = history.probes[-1]
    assert history.final["gap_distance"] == pytest.approx(am.gap_distance(last))
    assert history.final["probe_loss"] == pytest.approx(am.losses.info_nce(last, 0.01))
    assert history.final["step"] == 3 * 4  # 296 training pairs: 4 batches of 74 per epoch
    assert np.isfinite(frame.drop(columns="seconds").to_numpy(dtype=float)).all()


def test_short_run_is_deterministic(shapes, short_run):
    again = train_contrastive(shapes, temperature=0.01, seed=0, **SHORT)
    pd.testing.assert_frame_equal(_records_without_time(short_run), _records_without_time(again))
    assert again.model.fingerprint == short_run.model.fingerprint
    np.testing.assert_array_equal(again.probes[-1]["image"], short_run.probes[-1]["image"])
    other = train_contrastive(shapes, temperature=0.01, seed=1, epochs=1, probe=64,
                              batch_size=96)
    assert other.records[0]["loss"] != short_run.records[0]["loss"]


def test_training_restores_torch_settings(shapes):
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    rng = torch.random.get_rng_state()
    train_contrastive(shapes, epochs=1, probe=64, num_threads=1)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.equal(rng, torch.random.get_rng_state())


def test_loss_decreases(short_run):
    frame = short_run.to_frame()
    assert frame["loss"].iloc[-1] < 0.7 * frame["loss"].iloc[0]
    assert frame["probe_loss"].iloc[-1] < frame["probe_loss"].iloc[0]
    assert frame["recall@5:image->text"].iloc[-1] > frame["recall@5:image->text"].iloc[0]


def test_cone_effect_at_random_init(shapes):
    result = cone_effect(shapes, seeds=(0, 1, 2), max_pairs=200)
    data, figure = result
    assert len(data) == 6
    # mean in-modality cosine far above 0 for every seed and modality
    assert (data["cone_cosine"] > 0.5).all(), data
    # and the modalities already sit apart: a gap before any training
    assert (data["gap_distance"] > 0.8).all()
    centres = result.details["centre_cosine"].to_numpy()
    labels = list(result.details["centre_cosine"].index)
    image_rows = [k for k, label in enumerate(labels) if label.startswith("image")]
    across = [abs(centres[i, j]) for i in image_rows for j in image_rows if i < j]
    # different random inits give differently oriented cones
    assert max(across) < 0.5
    assert len(figure.data) == 3 + 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gap_closes_more_at_high_temperature(shapes, seed):
    gaps = {
        t: train_contrastive(shapes, temperature=t, seed=seed, **SHORT).final["gap_distance"]
        for t in (0.01, 1.0)
    }
    assert gaps[1.0] < gaps[0.01] - 0.2, gaps


def test_learned_temperature_moves(shapes):
    history = train_contrastive(shapes, temperature=0.07, learn_temperature=True, epochs=2,
                                probe=64, learning_rate=3e-3)
    temps = history.to_frame()["temperature"]
    assert temps.iloc[0] == pytest.approx(0.07)
    assert temps.iloc[-1] != pytest.approx(0.07)
    assert temps.min() >= 0.01


def test_callback_sees_every_epoch_and_can_stop(shapes):
    seen = []

    def callback(history):
        seen.append(len(history))
        return len(history) < 2

    history = train_contrastive(shapes, epochs=5, probe=64, callback=callback)
    assert seen == [1, 2]
    assert history.stopped_early and len(history) == 2


def test_continue_training_a_model(shapes, short_run):
    model = TinyCLIP.load(short_run.model.save(shapes_tmp := _tmp_npz()))
    shapes_tmp.unlink()
    more = train_contrastive(shapes, model=model, epochs=1, probe=64, batch_size=96)
    assert more.model is model
    assert more.records[0]["gap_distance"] == pytest.approx(short_run.final["gap_distance"],
                                                            abs=0.05)


def _tmp_npz():
    import tempfile
    from pathlib import Path

    handle = tempfile.NamedTemporaryFile(suffix=".npz", delete=False)
    handle.close()
    return Path(handle.name)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"temperature": 0}, ValueError, "temperature=0"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"epochs": -1}, ValueError, "epochs=-1"),
        ({"probe": 1}, ValueError, "probe=1"),
        ({"probe": [0, 0, 1]}, ValueError, "repeat"),
        ({"batch_size": 1}, ValueError, "batch_size=1"),
        ({"callback": 3}, TypeError, "callback"),
        ({"learn_temperature": True, "temperature": 0.001}, ValueError, "floor"),
        ({"architecture": {"depth": 2}}, TypeError, "depth"),
        ({"image_size": 4}, ValueError, "image_size=4"),
    ],
)
def test_bad_arguments(shapes, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_contrastive(shapes, **kwargs)


def test_dataset_without_text_is_rejected():
    class ImagesOnly:
        modalities = ("image",)

        def __len__(self):
            return 10

        def item(self, modality, i):
            raise AssertionError

    with pytest.raises(ValueError, match="needs 'image' and 'text'"):
        train_contrastive(ImagesOnly())
    with pytest.raises(TypeError, match="paired dataset"):
        train_contrastive([1, 2, 3])


# --------------------------------------------------------------------------- experiments
def test_temperature_sweep(shapes):
    result = temperature_sweep(shapes, (0.01, 1.0), epochs=2, probe=64, batch_size=96)
    summary = result.details["summary"].set_index("temperature")
    assert summary.loc[1.0, "gap_distance"] < summary.loc[0.01, "gap_distance"]
    assert set(result.data["temperature"]) == {0.01, 1.0}
    assert len(result.data) == 2 * 3
    assert len(result.figure.data) == 2 * 5  # 4 panels + the text-cone line, per τ
    with pytest.raises(TypeError, match="seed is set by temperature_sweep"):
        temperature_sweep(shapes, (0.1,), seed=3)
    with pytest.raises(ValueError, match="positive"):
        temperature_sweep(shapes, (0.1, -1.0))


def test_embedding_shift_reuses_history(short_run):
    result = embedding_shift(history=short_run, lams=np.linspace(-1, 1, 9),
                             temperatures=[0.01, 1.0])
    data = result.data
    assert set(data["stage"]) == {"random init", "trained"}
    assert len(data) == 2 * 2 * 9
    trained = data[(data["stage"] == "trained") & (data["temperature"] == 0.01)]
    expected = am.loss_landscape(short_run.probes[-1], [0.0], [0.01])[0, 0]
    assert trained.loc[trained["lam"] == 0, "loss"].item() == pytest.approx(expected)
    assert len(result.details["minimum"]) == 4
    with pytest.raises(ValueError, match="pass a dataset"):
        embedding_shift()
    with pytest.raises(TypeError, match="no effect"):
        embedding_shift(history=short_run, batch_size=3)


# --------------------------------------------------------------------------- monitor
def test_monitor_updates_from_callback(shapes):
    monitor = TrainingMonitor()
    snapshots = []

    def callback(history):
        monitor(history)
        snapshots.append(list(monitor.figure.data[3].y))

    history = train_contrastive(shapes, epochs=2, probe=64, batch_size=96, callback=callback)
    assert monitor.runs == {"τ=0.01, seed 0": 3}
    assert [len(s) for s in snapshots] == [1, 2, 3]  # the loss line grew every epoch
    loss_trace, gap_trace = monitor.figure.data[3], monitor.figure.data[4]
    assert list(loss_trace.y) == [r["loss"] for r in history]
    assert list(gap_trace.y) == [r["gap_distance"] for r in history]
    assert len(monitor.figure.data[0].x) == 64  # probe images in the scatter
    assert "epoch 2/2" in monitor.status.value
    # a second run gets its own lines; replaying the first does not duplicate it
    other = train_contrastive(shapes, temperature=1.0, epochs=1, probe=64, batch_size=96)
    monitor.replay(other).replay(history)
    assert monitor.runs == {"τ=0.01, seed 0": 3, "τ=1, seed 0": 2}
    with pytest.raises(TypeError, match="TrainingHistory"):
        monitor.update(object())


# --------------------------------------------------------------------------- shipped checkpoint
def test_shipped_checkpoint(tmp_path):
    path = weights_path()
    assert path.is_file(), "run scripts/train_tiny_shapes.py to create the checkpoint"
    assert path.stat().st_size <= 5 * 1024 * 1024
    enc = am.models.tiny_shapes()
    assert enc.name == "tiny_shapes"
    assert enc.info["recipe"]["temperature"] == 0.01
    ds = SyntheticShapes(300, seed=7)  # unseen pairs (trained on seed 0)
    emb = am.embed(enc, ds, cache_dir=tmp_path, progress=False)
    assert len(emb) == 300
    assert emb.meta["caption"].tolist() == ds.captions
    assert am.gap_distance(emb) > 0.3  # a real gap
    assert am.separability(emb) > 0.95
    assert am.recall_at_k(emb, 1)[1] > 0.6  # image -> text, decent retrieval
    assert tiny_shapes().fingerprint == enc.fingerprint


def test_monitor_subplot_titles_fit_their_subplots():
    """Issue 21 item 12: the middle title ("gap ‖Δ‖ (solid) · cone cosine (image ···,
    text −·−)") ran into its neighbours. Each title must fit its subplot's width in a
    700-px notebook output (width estimated at 0.55 em per character)."""
    from amumo.training import TrainingMonitor

    figure = TrainingMonitor().figure
    domains = [figure.layout[k].domain for k in figure.layout if k.startswith("xaxis")]
    room = min(d[1] - d[0] for d in domains) * (700 - 50)  # 50 px of margins
    for note in figure.layout.annotations:
        font = note.font.size if note.font and note.font.size else 16  # plotly's default
        assert len(note.text) * 0.55 * font <= room, (note.text, room)


# --------------------------------------------------------------------------- monitor legend
def test_training_monitor_legend_names_the_cone_line_styles():
    pytest.importorskip("torch")
    from amumo.training.monitor import TrainingMonitor

    monitor = TrainingMonitor()
    monitor._add_run("run 1")
    monitor._add_run("run 2")
    key_traces = [t for t in monitor.figure.data if t.legendgroup == "cone-key"]
    keys = {t.name: t.line.dash for t in key_traces}
    assert keys == {"cone cosine: image": "dot", "cone cosine: text": "dashdot"}
    assert all(t.showlegend is not False for t in key_traces)
