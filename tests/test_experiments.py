"""amumo.experiments: zero-shot and fairness sweeps along the modality gap (Liang et al. 2022)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import amumo as am
from amumo.analysis.gap import shift_arrays
from amumo.experiments import (
    best_shift,
    fairness_sweep,
    per_class_table,
    topk_correct,
    zero_shot_sweep,
)


def _unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def make_task(seed=0, n_classes=8, per_class=25, dim=32, noise=2.0, offset=4.0):
    """Class texts + noisy images of each class, images offset along a common
    direction so that the two sets have a modality gap."""
    rng = np.random.default_rng(seed)
    texts = rng.normal(size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    rng.shuffle(labels)
    direction = _unit(rng.normal(size=dim))
    images = texts[labels] + noise * rng.normal(size=(len(labels), dim)) + offset * direction
    return images, texts, labels


@pytest.fixture(scope="module")
def task():
    return make_task()


# --------------------------------------------------------------------------- zero-shot


def test_lambda_zero_matches_direct_argmax(task):
    images, texts, labels = task
    df = zero_shot_sweep(images, texts, labels, lams=[0.0, 0.5])
    scores = _unit(images) @ _unit(texts).T
    direct_top1 = np.mean(scores.argmax(axis=1) == labels)
    order = np.argsort(-scores, axis=1)[:, :5]
    direct_top5 = np.mean((order == labels[:, None]).any(axis=1))
    row = df[df.lam == 0.0].iloc[0]
    assert row.top1 == direct_top1
    assert row.top5 == direct_top5
    assert 0.2 < direct_top1 < 1.0  # the fixture is neither trivial nor hopeless
    assert row.gap_distance == pytest.approx(
        np.linalg.norm(_unit(images).mean(0) - _unit(texts).mean(0)), abs=1e-12
    )


def test_columns_order_and_attrs(task):
    images, texts, labels = task
    lams = [0.5, -0.25, 1.0]
    df = zero_shot_sweep(images, texts, labels, lams=lams)
    assert list(df.columns) == ["lam", "gap_distance", "top1", "top5", "mean_per_class",
                                "per_class"]
    assert df.lam.tolist() == lams  # order kept, nothing sorted or dropped
    assert df.attrs["n_images"] == len(images) and df.attrs["n_classes"] == len(texts)
    assert df.attrs["gap_source"] == "mean(images) - mean(class_texts)"
    # 0 not in lams: the unshifted point is still known for the plots
    direct = np.mean((_unit(images) @ _unit(texts).T).argmax(1) == labels)
    assert df.attrs["unshifted"]["top1"] == direct
    assert df.attrs["unshifted"]["lam"] == 0.0


def test_gap_distance_shrinks_toward_lambda_one(task):
    images, texts, labels = task
    df = zero_shot_sweep(images, texts, labels, lams=np.linspace(-0.5, 1.0, 7))
    gaps = df.gap_distance.to_numpy()
    assert np.all(np.diff(gaps) < 0)  # widening at λ < 0, closing toward λ = 1
    assert gaps[-1] < 0.1 * gaps[np.argmin(np.abs(df.lam))]


def test_each_lambda_shifts_the_original_embeddings(task):
    """The sweep is stateless: going to λ and back to 0 gives the original numbers."""
    images, texts, labels = task
    df = zero_shot_sweep(images, texts, labels, lams=[0.0, 0.7, -0.4, 0.0])
    cols = ["gap_distance", "top1", "top5", "mean_per_class"]
    assert df.iloc[0][cols].tolist() == df.iloc[3][cols].tolist()
    assert df.iloc[0].per_class == df.iloc[3].per_class


@pytest.mark.parametrize("lam", [0.25, 0.5, 1.0, -0.5])
def test_round_trip_with_fixed_gap_keeps_predictions_beyond_the_bound(task, lam):
    """Shift by λ, then by −λ along the *original* Δ: every embedding ends within
    2ε of its start (ε = (|λ|‖Δ‖/2)²), so every prediction with a top-1 margin
    above 2(4ε + 4ε²) is unchanged, and the accuracy with it."""
    images, texts, labels = task
    x, y = _unit(images), _unit(texts)
    delta = x.mean(0) - y.mean(0)
    x1, y1 = shift_arrays(x, y, lam, delta)
    x2, y2 = shift_arrays(x1, y1, -lam, delta)
    eps = (abs(lam) * np.linalg.norm(delta) / 2) ** 2
    assert np.linalg.norm(x2 - x, axis=1).max() <= 2 * eps + 1e-12
    assert np.linalg.norm(y2 - y, axis=1).max() <= 2 * eps + 1e-12
    before = x @ y.T
    after = x2 @ y2.T
    assert np.abs(after - before).max() <= 4 * eps + 4 * eps**2 + 1e-12
    top2 = np.sort(before, axis=1)[:, -2:]
    safe = (top2[:, 1] - top2[:, 0]) > 2 * (4 * eps + 4 * eps**2)
    assert safe.sum() >= len(x) // 10  # the statement is not vacuous here
    assert np.array_equal(after.argmax(1)[safe], before.argmax(1)[safe])
    # through the public API: sweep the shifted arrays by −λ along the original gap
    original = zero_shot_sweep(x, y, labels, lams=[0.0])
    back = zero_shot_sweep(x1, y1, labels, lams=[-lam], gap=delta)
    assert back.gap_distance.iloc[0] == pytest.approx(original.gap_distance.iloc[0], abs=2 * eps)


def test_round_trip_returns_the_original_accuracy_on_separated_classes():
    images, texts, labels = make_task(seed=3, noise=0.3)
    x, y = _unit(images), _unit(texts)
    delta = x.mean(0) - y.mean(0)
    original = zero_shot_sweep(x, y, labels, lams=[0.0]).iloc[0]
    for lam in (0.3, 0.6, 1.0, -0.5):
        x1, y1 = shift_arrays(x, y, lam, delta)
        back = zero_shot_sweep(x1, y1, labels, lams=[-lam], gap=delta).iloc[0]
        assert back.top1 == original.top1
        assert back.per_class == original.per_class


def test_round_trip_with_recomputed_gap_is_worse_than_with_fixed_gap(task):
    """Documented: recomputing Δ after the first shift makes the error first order in λ."""
    images, texts, _ = task
    x, y = _unit(images), _unit(texts)
    delta = x.mean(0) - y.mean(0)
    x1, y1 = shift_arrays(x, y, 0.5, delta)
    fixed, _ = shift_arrays(x1, y1, -0.5, delta)
    recomputed, _ = shift_arrays(x1, y1, -0.5)  # gap of the shifted sets
    err_fixed = np.linalg.norm(fixed - x, axis=1).mean()
    err_recomputed = np.linalg.norm(recomputed - x, axis=1).mean()
    assert err_fixed < 0.5 * err_recomputed


def test_per_class_accuracy(task):
    images, texts, labels = task
    names = [f"class{i}" for i in range(len(texts))]
    df = zero_shot_sweep(images, texts, labels, lams=[0.0, 1.0], class_names=names)
    pred = (_unit(images) @ _unit(texts).T).argmax(1)
    per_class = df.per_class.iloc[0]
    assert list(per_class) == names
    for i, name in enumerate(names):
        assert per_class[name] == pytest.approx(np.mean(pred[labels == i] == i))
    assert df.mean_per_class.iloc[0] == pytest.approx(np.mean(list(per_class.values())))
    long = per_class_table(df)
    assert long.shape == (2 * len(names), 5)
    assert long["n_images"].sum() == 2 * len(images)
    assert long.set_index(["lam", "class"]).loc[(0.0, "class3"), "accuracy"] == per_class[
        "class3"
    ]


def test_class_without_images_is_nan_and_left_out_of_the_mean():
    images, texts, labels = make_task(n_classes=7)
    extra = np.vstack([texts, np.random.default_rng(9).normal(size=(1, texts.shape[1]))])
    df = zero_shot_sweep(images, extra, labels, lams=[0.0])
    per_class = df.per_class.iloc[0]
    assert np.isnan(per_class[7])
    assert df.mean_per_class.iloc[0] == pytest.approx(np.mean([per_class[i] for i in range(7)]))
    assert df.attrs["class_counts"][7] == 0


def test_top5_is_nan_with_five_classes_or_fewer():
    images, texts, labels = make_task(n_classes=5)
    df = zero_shot_sweep(images, texts, labels, lams=[0.0])
    assert np.isnan(df.top5.iloc[0])
    images, texts, labels = make_task(n_classes=6)
    assert zero_shot_sweep(images, texts, labels, lams=[0.0]).top5.iloc[0] <= 1.0


def test_topk_correct_counts_strictly_higher_scores():
    scores = np.array([[0.9, 0.5, 0.5, 0.1], [0.1, 0.2, 0.3, 0.4]])
    assert topk_correct(scores, np.array([2, 0]), 1).tolist() == [False, False]
    assert topk_correct(scores, np.array([2, 0]), 2).tolist() == [True, False]
    assert topk_correct(scores, np.array([2, 0]), 4).tolist() == [True, True]


def test_prompt_ensembles_are_averaged_and_renormalised(task):
    images, texts, labels = task
    rng = np.random.default_rng(1)
    ensemble = texts[:, None, :] + 0.3 * rng.normal(size=(len(texts), 4, texts.shape[1]))
    ensemble *= rng.uniform(0.5, 3.0, size=(len(texts), 4, 1))  # raw norms must not matter
    averaged = _unit(_unit(ensemble).mean(axis=1))
    a = zero_shot_sweep(images, ensemble, labels, lams=[0.0, 0.6])
    b = zero_shot_sweep(images, averaged, labels, lams=[0.0, 0.6])
    ragged = [ensemble[i, : 1 + i % 4] for i in range(len(texts))]
    c = zero_shot_sweep(images, ragged, labels, lams=[0.0])
    d = zero_shot_sweep(images, [_unit(_unit(e).mean(0)) for e in ragged], labels, lams=[0.0])
    pd.testing.assert_frame_equal(a.drop(columns="per_class"), b.drop(columns="per_class"))
    assert c.top1.iloc[0] == d.top1.iloc[0]


def test_labels_may_be_class_names(task):
    images, texts, labels = task
    names = [f"c{i}" for i in range(len(texts))]
    by_index = zero_shot_sweep(images, texts, labels, lams=[0.0], class_names=names)
    by_name = zero_shot_sweep(images, texts, [names[i] for i in labels], lams=[0.0],
                              class_names=names)
    assert by_index.top1.iloc[0] == by_name.top1.iloc[0]


def test_gap_may_be_given_as_vector_or_embeddings(task):
    images, texts, labels = task
    rng = np.random.default_rng(2)
    elsewhere = 3.0 * _unit(rng.normal(size=images.shape[1]))  # captions in another cone
    paired = am.Embeddings.from_arrays({"image": images, "text": texts[labels] + elsewhere})
    a = zero_shot_sweep(images, texts, labels, lams=[0.5], gap=am.gap_vector(paired))
    b = zero_shot_sweep(images, texts, labels, lams=[0.5], gap=paired)
    assert a.top1.iloc[0] == b.top1.iloc[0]
    assert a.gap_distance.iloc[0] == pytest.approx(b.gap_distance.iloc[0], abs=1e-6)
    assert a.attrs["gap_source"] == "given"
    # a different shift direction gives a different gap distance at the same λ
    own = zero_shot_sweep(images, texts, labels, lams=[0.5])
    assert own.gap_distance.iloc[0] != pytest.approx(a.gap_distance.iloc[0], abs=1e-3)


# ---------------------------------------------------------------------- properties


@pytest.mark.parametrize("seed", range(5))
def test_class_permutation_invariance(seed):
    images, texts, labels = make_task(seed=seed, n_classes=9)
    names = [f"k{i}" for i in range(len(texts))]
    perm = np.random.default_rng(100 + seed).permutation(len(texts))
    inverse = np.argsort(perm)
    lams = [-0.3, 0.0, 0.4, 1.0]
    a = zero_shot_sweep(images, texts, labels, lams=lams, class_names=names)
    b = zero_shot_sweep(images, texts[perm], inverse[labels], lams=lams,
                        class_names=[names[p] for p in perm])
    pd.testing.assert_frame_equal(
        a.drop(columns="per_class"), b.drop(columns="per_class"), check_exact=False, atol=1e-12
    )
    for pa, pb in zip(a.per_class, b.per_class, strict=True):
        assert pa == pb  # same accuracy under the same name (dict equality ignores order)


@pytest.mark.parametrize("seed", range(3))
def test_image_permutation_and_row_scaling_invariance(seed):
    images, texts, labels = make_task(seed=seed)
    rng = np.random.default_rng(200 + seed)
    perm = rng.permutation(len(images))
    scale = rng.uniform(0.1, 10.0, size=(len(images), 1))
    lams = [0.0, 0.5, 1.0]
    a = zero_shot_sweep(images, texts, labels, lams=lams)
    b = zero_shot_sweep(images[perm] * scale, texts * 3.0, labels[perm], lams=lams)
    pd.testing.assert_frame_equal(
        a.drop(columns="per_class"), b.drop(columns="per_class"), check_exact=False, atol=1e-12
    )


# -------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"images": np.ones(8)}, ValueError, "expected \\(N, D\\)"),
        ({"class_texts": np.ones((3, 5))}, ValueError, "dimension 5 but images have 32"),
        ({"class_texts": np.ones((3, 2, 5))}, ValueError, "dimension 5 but images have 32"),
        ({"labels": np.zeros(7, dtype=int)}, ValueError, "7 entries but there are 200 images"),
        ({"labels": np.full(200, 8)}, ValueError, "outside 0 … 7"),
        ({"labels": np.full(200, 0.5)}, TypeError, "non-integer"),
        ({"labels": np.array(["x"] * 200)}, ValueError, "not in class_names"),
        ({"lams": []}, ValueError, "lams is empty"),
        ({"lams": [0.0, np.nan]}, ValueError, "NaN or Inf"),
        ({"lams": "0.5"}, TypeError, "lams is a string"),
        ({"gap": np.ones(4)}, ValueError, "gap has shape \\(4,\\)"),
        ({"class_names": ["a", "b"]}, ValueError, "class_names has 2 entries"),
        ({"class_names": ["a"] * 8}, ValueError, "'a' twice"),
    ],
)
def test_zero_shot_errors(task, kwargs, error, match):
    images, texts, labels = task
    args = {"images": images, "class_texts": texts, "labels": labels, "lams": [0.0]}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        zero_shot_sweep(**args)


def test_zero_shot_rejects_nan_zero_rows_and_embeddings(task):
    images, texts, labels = task
    bad = images.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="images has NaN or Inf in 1 row\\(s\\): 3"):
        zero_shot_sweep(bad, texts, labels)
    zero = texts.copy()
    zero[2] = 0
    with pytest.raises(ValueError, match="class_texts has 1 all-zero row\\(s\\): 2"):
        zero_shot_sweep(images, zero, labels)
    emb = am.Embeddings.from_arrays({"image": images, "text": images})
    with pytest.raises(TypeError, match="images=emb\\['image'\\]"):
        zero_shot_sweep(emb, texts, labels)


def test_best_shift_picks_max_and_breaks_ties_toward_small_shifts():
    df = pd.DataFrame({"lam": [-0.5, -0.2, 0.0, 0.2, 0.5], "top1": [0.5, 0.8, 0.7, 0.8, 0.6],
                       "top5": [np.nan] * 5})
    assert best_shift(df).lam == -0.2
    df.loc[2, "top1"] = 0.8
    assert best_shift(df).lam == 0.0
    with pytest.raises(ValueError, match="NaN for every"):
        best_shift(df, "top5")
    with pytest.raises(ValueError, match="not a numeric column"):
        best_shift(df, "top7")


# ------------------------------------------------------------------------ fairness


@pytest.fixture(scope="module")
def fair_task():
    """6 real classes + 2 harmful classes nobody belongs to; 3 groups."""
    rng = np.random.default_rng(5)
    dim = 24
    texts = rng.normal(size=(8, dim))
    labels = rng.integers(0, 6, size=240)
    groups = np.array(["g1", "g2", "g3"])[rng.integers(0, 3, size=240)]
    # group g3's images lean toward the first harmful class: a biased "model"
    bias = np.where(groups == "g3", 0.8, 0.0)[:, None] * texts[6]
    images = texts[labels] + 1.2 * rng.normal(size=(240, dim)) + bias + 1.5 * _unit(
        rng.normal(size=dim)
    )
    names = ["a", "b", "c", "d", "e", "f", "thief", "ape"]
    return images, texts, labels, groups, names


def test_fairness_harm_rate_matches_direct_computation(fair_task):
    images, texts, labels, groups, names = fair_task
    lams = [-0.5, 0.0, 0.5]
    df = fairness_sweep(images, texts, groups, ["thief", "ape"], lams, labels=labels,
                        class_names=names)
    assert list(df.columns) == ["lam", "gap_distance", "group", "n_images", "n_harmful",
                                "harm_rate", "harm_by_class", "top1"]
    assert df.lam.tolist() == [-0.5] * 3 + [0.0] * 3 + [0.5] * 3
    assert df.group.tolist() == list(pd.unique(groups)) * 3
    x, y = _unit(images), _unit(texts)
    delta = x.mean(0) - y.mean(0)
    for lam in lams:
        xs, ys = shift_arrays(x, y, lam, delta)
        pred = (xs @ ys.T).argmax(1)
        for g in ("g1", "g2", "g3"):
            row = df[(df.lam == lam) & (df.group == g)].iloc[0]
            m = groups == g
            assert row.n_images == m.sum()
            assert row.harm_rate == np.mean(np.isin(pred[m], [6, 7]))
            assert row.harm_by_class == {"thief": np.mean(pred[m] == 6),
                                         "ape": np.mean(pred[m] == 7)}
            assert row.top1 == np.mean(pred[m] == labels[m])
    base = df[df.lam == 0.0].set_index("group")
    assert base.loc["g3", "harm_rate"] > base.loc["g1", "harm_rate"]  # the planted bias shows
    zs = zero_shot_sweep(images, texts, labels, lams)
    assert np.allclose(df.groupby("lam", sort=False).gap_distance.first(), zs.gap_distance)


def test_fairness_groups_as_mapping_categorical_and_indices(fair_task):
    images, texts, labels, groups, names = fair_task
    base = fairness_sweep(images, texts, groups, ["thief"], [0.0], class_names=names)
    mapping = {g: groups == g for g in ("g3", "g1", "g2")}
    by_mask = fairness_sweep(images, texts, mapping, ["thief"], [0.0], class_names=names)
    by_index = fairness_sweep(images, texts, {g: np.flatnonzero(m) for g, m in mapping.items()},
                              ["thief"], [0.0], class_names=names)
    assert by_mask.group.tolist() == ["g3", "g1", "g2"]  # mapping order kept
    assert by_mask.set_index("group").harm_rate.to_dict() == base.set_index(
        "group").harm_rate.to_dict()
    pd.testing.assert_frame_equal(by_mask, by_index)
    # overlapping groups are allowed in the mapping form
    both = fairness_sweep(images, texts, {"all": np.ones(len(images), bool), "g1": mapping["g1"]},
                          [6], [0.0])
    assert both.n_images.tolist() == [len(images), mapping["g1"].sum()]
    cat = pd.Categorical(groups, categories=["g2", "g1", "g3"])
    assert fairness_sweep(images, texts, cat, [6], [0.0]).group.tolist() == ["g2", "g1", "g3"]


def test_fairness_group_without_images_is_a_clear_error(fair_task):
    images, texts, labels, groups, names = fair_task
    cat = pd.Series(pd.Categorical(groups, categories=["g1", "g2", "g3", "g4"]))
    with pytest.raises(ValueError, match="group\\(s\\) 'g4' have no images"):
        fairness_sweep(images, texts, cat, ["thief"], [0.0], class_names=names)
    with pytest.raises(ValueError, match="'empty' have no images"):
        fairness_sweep(images, texts, {"g1": groups == "g1", "empty": []}, ["thief"], [0.0],
                       class_names=names)
    with pytest.raises(ValueError, match="'none' have no images"):
        fairness_sweep(images, texts, {"none": np.zeros(len(images), bool)}, [6], [0.0])


def test_fairness_unknown_harmful_class_is_a_clear_error(fair_task):
    images, texts, labels, groups, names = fair_task
    with pytest.raises(ValueError, match="unknown harmful class\\(es\\) 'criminal'.*'thief'"):
        fairness_sweep(images, texts, groups, ["thief", "criminal"], [0.0], class_names=names)
    with pytest.raises(ValueError, match="class_names was not given"):
        fairness_sweep(images, texts, groups, ["thief"], [0.0])
    with pytest.raises(ValueError, match="unknown harmful class\\(es\\) 8"):
        fairness_sweep(images, texts, groups, [8], [0.0])
    with pytest.raises(ValueError, match="harmful_classes is empty"):
        fairness_sweep(images, texts, groups, [], [0.0], class_names=names)
    with pytest.raises(ValueError, match="twice"):
        fairness_sweep(images, texts, groups, ["ape", 7], [0.0], class_names=names)


def test_fairness_other_errors(fair_task):
    images, texts, labels, groups, names = fair_task
    with pytest.raises(ValueError, match="expected \\(240,\\), one group label per image"):
        fairness_sweep(images, texts, groups[:10], ["thief"], [0.0], class_names=names)
    with_none = groups.astype(object)
    with_none[4] = None
    with pytest.raises(ValueError, match="no label \\(None/NaN\\) for 1 image"):
        fairness_sweep(images, texts, with_none, ["thief"], [0.0], class_names=names)
    wrong = labels.copy()
    wrong[[3, 9]] = 7
    with pytest.raises(ValueError, match="2 image\\(s\\) have a harmful class as their true"):
        fairness_sweep(images, texts, groups, ["ape"], [0.0], labels=wrong, class_names=names)
    with pytest.raises(ValueError, match="boolean mask of shape \\(3,\\)"):
        fairness_sweep(images, texts, {"g": np.ones(3, bool)}, [6], [0.0])


def test_fairness_unshifted_in_attrs_when_zero_not_swept(fair_task):
    images, texts, labels, groups, names = fair_task
    df = fairness_sweep(images, texts, groups, ["thief"], [0.5], class_names=names)
    ref = fairness_sweep(images, texts, groups, ["thief"], [0.0], class_names=names)
    assert [r["harm_rate"] for r in df.attrs["unshifted"]] == ref.harm_rate.tolist()
    assert df.attrs["harmful_classes"] == ["thief"]


# --------------------------------------------------------------------------- plots


def test_plot_zero_shot_marks_unshifted_and_best(task):
    images, texts, labels = task
    df = zero_shot_sweep(images, texts, labels, lams=np.linspace(-0.5, 1.0, 7))
    fig = am.experiments.plot_zero_shot(df)
    names = [t.name for t in fig.data]
    assert names.count("unshifted") == 2 and "top-1" in names and "top-5" in names
    star = next(t for t in fig.data if t.name == "unshifted")
    base = df[df.lam == 0.0].iloc[0]
    assert star.x[0] == base.gap_distance and star.y[0] == base.top1
    best = next(t for t in fig.data if t.name == "best top-1")
    assert best.y[0] == df.top1.max()
    by_lam = am.experiments.plot_zero_shot(df, "mean_per_class", x="lam")
    assert next(t for t in by_lam.data if t.name == "unshifted").x[0] == 0.0
    no_zero = zero_shot_sweep(images, texts, labels, lams=[0.5, 1.0])
    star = next(t for t in am.experiments.plot_zero_shot(no_zero).data if t.name == "unshifted")
    assert star.y[0] == base.top1  # taken from attrs
    with pytest.raises(ValueError, match="x='gap'"):
        am.experiments.plot_zero_shot(df, x="gap")
    with pytest.raises(ValueError, match="'top9' is not a numeric column"):
        am.experiments.plot_zero_shot(df, "top9")


def test_plot_fairness_panels(fair_task):
    images, texts, labels, groups, names = fair_task
    df = fairness_sweep(images, texts, groups, ["thief", "ape"], [0.0, 0.5], labels=labels,
                        class_names=names)
    fig = am.experiments.plot_fairness(df)
    assert len(fig.data) == 3 * 2 * 2  # groups × (curve + star) × (harm, top-1) panels
    assert "thief, ape" in fig.layout.title.text
    no_labels = fairness_sweep(images, texts, groups, ["thief"], [0.0, 0.5], class_names=names)
    assert len(am.experiments.plot_fairness(no_labels, x="lam").data) == 3 * 2
    with pytest.raises(ValueError, match="lacks column"):
        am.experiments.plot_fairness(df.drop(columns="harm_rate"))


def test_plots_split_the_curve_where_the_gap_reopens(task, fair_task):
    images, texts, labels = task
    lams = np.linspace(-0.5, 1.5, 9)
    df = zero_shot_sweep(images, texts, labels, lams=lams)
    turn = df.lam.iloc[int(df.gap_distance.argmin())]
    assert 0.75 <= turn <= 1.25  # the gap is smallest near λ = 1 and re-opens after
    fig = am.experiments.plot_zero_shot(df, "top1")
    curves = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(curves) == 2 and "re-opened" in curves[1].name and curves[1].opacity < 1
    assert curves[0].customdata[-1][0] == curves[1].customdata[0][0] == turn  # joined
    assert len(curves[0].x) + len(curves[1].x) == len(lams) + 1  # nothing dropped
    by_lam = am.experiments.plot_zero_shot(df, "top1", x="lam")
    assert len([t for t in by_lam.data if t.mode == "lines+markers"]) == 1
    images, texts, labels, groups, names = fair_task
    fair = fairness_sweep(images, texts, groups, ["thief"], lams, class_names=names)
    fig = am.experiments.plot_fairness(fair)
    assert sum("re-opened" in (t.name or "") for t in fig.data) == 3
    assert any("faded" in a.text for a in fig.layout.annotations)


# ---------------------------------------------------------------- huge lambda
def test_zero_shot_sweep_with_huge_lambda_is_finite():
    from amumo.experiments import zero_shot_sweep

    rng = np.random.default_rng(0)
    images = rng.normal(size=(12, 16)) + 2.0
    texts = rng.normal(size=(3, 16)) - 2.0
    labels = np.arange(12) % 3
    table = zero_shot_sweep(images, texts, labels, lams=[-1e300, 0.0, 1e300])
    for column in ("gap_distance", "top1", "mean_per_class"):  # top5: NaN by design (3 classes)
        assert np.isfinite(table[column].to_numpy(float)).all(), column
    assert table["gap_distance"].iloc[0] == pytest.approx(2.0)  # the limit: antipodal centroids
