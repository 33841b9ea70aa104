"""Single-item retrieval, failed retrievals and cosine calibration (analysis side), and the
checks of recall@k's ``k``."""

from __future__ import annotations

import numpy as np
import pytest

import amumo as am
from amumo.analysis.calibration import calibration_figure, cosine_histograms, cosine_samples
from amumo.analysis.neighbours import failed_retrievals, neighbours


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


def test_neighbours_brute_force(clip):
    sims = clip["text"].astype(np.float64) @ clip["image"].astype(np.float64).T
    for pair in (0, 3, 239, 499):
        hit = neighbours(clip, pair, "text", "image", k=7)
        order = np.argsort(-sims[pair], kind="stable")[:7]
        assert hit["pairs"] == order.tolist()
        assert hit["scores"] == pytest.approx(sims[pair, order])
        assert hit["rank"] == int(np.sum(sims[pair] > sims[pair, pair]))
        assert hit["true_score"] == pytest.approx(sims[pair, pair])
        assert hit["n_candidates"] == 500


def test_neighbour_ranks_give_recall(clip):
    ranks = [neighbours(clip, i, k=1)["rank"] for i in range(len(clip))]
    assert np.mean(np.array(ranks) == 0) == pytest.approx(am.recall_at_k(clip, 1)[1])
    assert np.mean(np.array(ranks) < 5) == pytest.approx(am.recall_at_k(clip, 5)[5])


def test_neighbours_errors(clip):
    for bad in (-1, 500, 1.5, True):
        with pytest.raises(ValueError, match="pair="):
            neighbours(clip, bad)
    with pytest.raises(ValueError, match="k="):
        neighbours(clip, 0, k=0)
    assert len(neighbours(clip.subset([0, 1, 2]), 0, k=10)["pairs"]) == 3


def test_failed_retrievals_exact(clip):
    table, summary = failed_retrievals(clip, max_rows=500)
    assert summary["n_failed"] == round((1 - 0.552) * 500) == len(table)
    assert summary["failure_rate"] == pytest.approx(1 - 0.552)
    assert not summary["estimate"]
    assert (table["rank"] > 0).all()
    assert np.all(np.diff(table["rank"]) <= 0)  # worst first
    assert (table["top_score"] > table["true_score"]).all()
    sims = clip["image"].astype(np.float64) @ clip["text"].astype(np.float64).T
    row = table.iloc[0]
    assert int(row["top_pair"]) == int(np.argmax(sims[int(row["pair"])]))
    reverse, rsummary = failed_retrievals(clip, "text", "image", max_rows=5)
    assert rsummary["n_failed"] == round((1 - 0.506) * 500)
    assert len(reverse) == 5


def test_failed_retrievals_estimate(clip):
    table, summary = failed_retrievals(clip, max_queries=200, seed=1)
    assert summary["estimate"] and summary["n_queries"] == 200
    lo, hi = summary["interval"]
    assert lo < summary["failure_rate"] < hi
    assert lo < 0.448 < hi  # the exact rate lies in the 95 % interval
    again, _ = failed_retrievals(clip, max_queries=200, seed=1)
    assert table.equals(again)


def test_cosine_samples_match_exact_means(clip):
    s = cosine_samples(clip, max_samples=50_000, seed=0)
    assert s["matched"].mean() == pytest.approx(am.paired_cosine(clip))
    assert s["within:image"].mean() == pytest.approx(am.cone_cosine(clip, "image"), abs=0.01)
    assert s["within:text"].mean() == pytest.approx(am.cone_cosine(clip, "text"), abs=0.01)
    sims = clip["image"].astype(np.float64) @ clip["text"].astype(np.float64).T
    off = sims[~np.eye(500, dtype=bool)]
    assert s["unmatched"].mean() == pytest.approx(off.mean(), abs=0.005)
    # i != j always: no within-modality sample is an item with itself
    assert s["within:image"].max() < 0.999


def test_cosine_histograms(clip):
    h = cosine_histograms(clip, bins=40)
    edges = np.asarray(h["edges"])
    assert len(edges) == 41
    for values in h["series"].values():
        assert np.sum(np.asarray(values) * np.diff(edges)) == pytest.approx(1.0)
    assert h["means"]["matched"] == pytest.approx(0.3099, abs=1e-4)
    assert 0.95 < h["auc"] <= 1.0
    assert h == cosine_histograms(clip, bins=40)  # seeded
    rnd = cosine_histograms(am.datasets.clip_coco500(random_init=True))
    assert 0.4 < rnd["auc"] < 0.7  # random init: a pair is no more similar than any other
    fig = calibration_figure(clip)
    assert [t.name for t in fig.data] == ["matched", "unmatched", "within:image", "within:text"]


def test_calibration_large_n_samples_matched():
    rng = np.random.default_rng(0)
    emb = am.Embeddings.from_arrays({"image": rng.normal(size=(3000, 8)),
                                     "text": rng.normal(size=(3000, 8))})
    s = cosine_samples(emb, max_samples=1000)
    assert all(len(v) == 1000 for v in s.values())
    with pytest.raises(ValueError, match="max_samples"):
        cosine_samples(emb, max_samples=0)


def test_one_query_is_linear_in_n():
    """A hover asks one row against all candidates: memory O(N), never N x N."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 200_000  # an N x N float64 matrix would need 320 GB
    emb = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(n, 4)), "text": rng.normal(size=(n, 4))}
    )
    tracemalloc.start()
    hit = neighbours(emb, 123, k=5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * n  # a few float64 vectors of length N
    assert len(hit["pairs"]) == 5 and hit["n_candidates"] == n
    table, summary = failed_retrievals(emb, max_queries=50, max_rows=5)
    assert summary["estimate"] and summary["n_queries"] == 50


def test_failed_retrievals_blocks_do_not_change_the_table(clip, monkeypatch):
    import importlib

    module = importlib.import_module("amumo.analysis.retrieval")  # the ranking it uses

    expected = failed_retrievals(clip, max_rows=500)
    monkeypatch.setattr(module, "BLOCK_ENTRIES", 7 * 33)  # blocks that do not divide N
    table, summary = failed_retrievals(clip, max_rows=500)
    assert summary == expected[1]
    assert table[["pair", "rank", "top_pair"]].equals(expected[0][["pair", "rank", "top_pair"]])
    assert np.allclose(table["top_score"], expected[0]["top_score"])


def test_failed_retrievals_can_be_stopped(clip, monkeypatch):
    import importlib

    from amumo.analysis._progress import Cancelled

    module = importlib.import_module("amumo.analysis.retrieval")
    monkeypatch.setattr(module, "BLOCK_ENTRIES", 500 * 50)  # ten candidate blocks

    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        failed_retrievals(clip, should_stop=stop)
    assert len(calls) == 2  # stopped at the second block


def test_neighbours_float32_path(clip):
    for pair in (0, 3, 239):
        exact = neighbours(clip, pair, k=5)
        fast = neighbours(clip, pair, k=5, exact=False)
        assert fast["scores"] == pytest.approx(exact["scores"], abs=1e-6)
        assert fast["rank"] == exact["rank"]
        assert set(fast["pairs"]) == set(exact["pairs"])


# ---------------------------------------------------------------- one tie rule (issue 21 item 8)
@pytest.fixture(scope="module")
def red_circles(tmp_path_factory):
    """The walkthrough's 11 'red circle' pairs (getting_started §2): the shipped tiny model
    on SyntheticShapes(300, seed=0), filtered as the Explorer does. Three of them share the
    caption 'a medium red circle in the bottom right', so their text rows are identical."""
    import os

    from amumo.data import SyntheticShapes

    os.environ.setdefault("AMUMO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    shapes = SyntheticShapes(300, seed=0)
    emb = am.embed(am.models.tiny_shapes(), shapes, progress=False)
    captions = shapes.meta["caption"].str.lower()
    keep = np.flatnonzero(captions.str.contains("red") & captions.str.contains("circle"))
    sub = emb.subset(keep)
    assert len(sub) == 11 and len(np.unique(sub["text"], axis=0)) < 11  # duplicates present
    return sub


@pytest.mark.parametrize(("source", "target"), [("image", "text"), ("text", "image")])
def test_recall_failures_and_hover_rank_follow_one_tie_rule(red_circles, source, target):
    """R@1 0.909 next to "0 of 11 queries fail" before: recall counted a bit-identical
    duplicate caption (one rounding apart in another product) as outranking the partner,
    the failures table did not. One rule now: only a cosine higher by more than TIE."""
    from amumo.analysis.retrieval import TIE, retrieval_metrics

    emb = red_circles
    n = len(emb)
    x, y = emb[source].astype(np.float64), emb[target].astype(np.float64)
    sims = x @ y.T
    expected = (sims > np.diag(sims)[:, None] + TIE).sum(axis=1)  # the stated rule, by hand
    recall = retrieval_metrics(emb, source, target, ks=(1,))[f"recall@1:{source}->{target}"]
    table, summary = failed_retrievals(emb, source, target)
    hover = [neighbours(emb, i, source, target, k=3) for i in range(n)]
    assert recall == np.mean(expected == 0)
    assert summary["n_failed"] == int(np.sum(expected > 0)) == round((1 - recall) * n)
    assert sorted(table["pair"]) == np.flatnonzero(expected > 0).tolist()
    assert [h["rank"] for h in hover] == expected.tolist()
    assert am.recall_at_k(emb, 1, source, target)[1] == recall
    for i, hit in enumerate(hover):  # the partner is listed right after what outranks it
        if hit["rank"] < 3:
            assert hit["pairs"][hit["rank"]] == i


def test_duplicated_caption_ties_count_for_the_partner():
    """Three pairs whose captions are word for word the same (identical text rows): each
    image retrieves "its" caption first under the tie rule, in both precisions, and the
    hover lists its own partner first."""
    from amumo.analysis.retrieval import rank_queries, retrieval_metrics

    rng = np.random.default_rng(3)
    image = rng.normal(size=(40, 64))
    text = image + 0.3 * rng.normal(size=(40, 64))
    text[[5, 17, 31]] = text[5]  # one caption, three images
    for i in (5, 17, 31):
        image[i] = text[5] + 0.01 * rng.normal(size=64)
    emb = am.Embeddings.from_arrays({"image": image, "text": text})
    for precision in ("float64", "float32"):
        ranks = rank_queries(emb["image"], emb["text"], precision=precision).ranks
        assert ranks[[5, 17, 31]].tolist() == [0, 0, 0]
    assert retrieval_metrics(emb, ks=(1,))["recall@1:image->text"] == 1.0
    assert failed_retrievals(emb)[1]["n_failed"] == 0
    for i in (5, 17, 31):
        assert neighbours(emb, i, k=3)["pairs"][0] == i
        assert neighbours(emb, i, k=3, exact=False)["rank"] == 0


def test_calibration_note_is_written_from_its_numbers(clip):
    """Issue 21 item 4: the note was fixed text ("that is why 0.3 is a high CLIP
    similarity") that contradicted its own numbers after closing the gap (92 % of
    unmatched pairs reach 0.3). It is now written from the histograms' numbers."""
    before = cosine_histograms(clip)
    after = cosine_histograms(am.close_gap(clip))
    assert f"{100 * before['auc']:.1f} %" in before["note"]
    assert f"{100 * before['unmatched_above_0.3']:.1f} % of unmatched pairs reach 0.3, so 0.3 " \
        "is a high similarity here" in before["note"]
    assert after["unmatched_above_0.3"] > 0.5
    assert "0.3 is not a high similarity here" in after["note"]
    assert "high similarity here" not in after["note"].replace("not a high", "")
    assert f"reach {after['high_score']:.2f}" in after["note"]
    assert "sit well below" in before["note"] and "close to" in after["note"]
    random = cosine_histograms(am.datasets.clip_coco500(random_init=True))
    assert "hardly told apart" in random["note"] and "is a high similarity" not in random["note"]


# ---------------------------------------------------------------- recall@k arguments
@pytest.fixture(scope="module")
def small(clip):
    return clip.subset(range(6))
def test_recall_refuses_k_above_n_and_non_integers(small):
    with pytest.raises(ValueError, match=r"k=7 but there are only N=6"):
        am.recall_at_k(small, 7)
    with pytest.raises(ValueError, match=r"ks=\(1, 7\): k=7 but there are only N=6"):
        am.metrics(small, ks=(1, 7))
    with pytest.raises(TypeError, match=r"k=\(1, 'x'\): k='x' must be a positive integer"):
        am.recall_at_k(small, (1, "x"))
    with pytest.raises(TypeError, match=r"ks=\('x',\): k='x'"):
        am.metrics(small, ks=("x",))
    for bad in (0, 1.5, True):
        with pytest.raises((TypeError, ValueError), match="positive integer"):
            am.recall_at_k(small, bad)
    assert am.recall_at_k(small, 6)[6] == 1.0  # k = N is allowed
    # the default ks of metrics() leave out k > N instead of reporting 1.0
    keys = am.metrics(small)
    assert "recall@5:image->text" in keys and "recall@10:image->text" not in keys
