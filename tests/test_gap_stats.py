"""GapStats (mergeable O(N·D) metrics) and blocked / sampled retrieval
(amumo.analysis.stats, retrieval)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import amumo as am
from amumo.analysis.retrieval import (
    Cancelled,
    rank_queries,
    resolve_sample,
    retrieval_metrics,
    wilson_interval,
)
from amumo.embeddings.shards import write_shard

SUM_KEYS = ("gap_distance", "paired_cosine", "alignment", "rmg", "l2i", "centroid_cosine")


@pytest.fixture(scope="module")
def clip():
    return am.datasets.clip_coco500()


def _synthetic(n, d=32, m=2, seed=0, gap=1.0):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, d))
    names = ["image", "text", "audio"][:m]
    arrays = {}
    for i, name in enumerate(names):
        offset = np.zeros(d)
        offset[i] = 3.0 * gap
        arrays[name] = shared + 0.8 * rng.normal(size=(n, d)) + offset
    return am.Embeddings.from_arrays(arrays)


def _close(stats: dict, ref: dict, keys, tol=1e-9):
    for key in keys:
        assert abs(stats[key] - ref[key]) <= tol, (key, stats[key], ref[key])


@pytest.mark.parametrize("random_init, expected", [
    (False, {"rmg": 0.5915, "l2i": 1.1745, "centroid_cosine": 0.3088, "gap_distance": 0.8514}),
    (True, {"rmg": 0.7478, "l2i": 1.3938}),
])
def test_reference_values(random_init, expected):
    emb = am.datasets.clip_coco500(random_init=random_init)
    stats = am.GapStats().update(emb).metrics()
    metrics = am.metrics(emb, include_separability=False)
    for key, value in expected.items():
        assert round(stats[key], 4) == value
        assert round(metrics[key], 4) == value


def test_equals_direct_functions_and_metrics(clip):
    stats = am.GapStats().update(clip).metrics()
    ref = am.metrics(clip, include_separability=False)
    _close(stats, ref, SUM_KEYS + ("cone_cosine:image", "cone_cosine:text"))
    # against the independent direct formulas (science helper's gap_measures, metrics.py)
    assert abs(stats["rmg"] - am.rmg(clip)) <= 1e-9
    assert abs(stats["l2i"] - am.l2i(clip)) <= 1e-9
    assert abs(stats["centroid_cosine"] - am.centroid_cosine(clip)) <= 1e-9
    assert abs(stats["gap_distance"] - am.gap_distance(clip)) <= 1e-9
    assert abs(stats["paired_cosine"] - am.paired_cosine(clip)) <= 1e-9
    assert abs(stats["alignment"] - am.alignment(clip)) <= 1e-9
    assert abs(stats["cone_cosine:text"] - am.cone_cosine(clip, "text")) <= 1e-9
    np.testing.assert_allclose(am.GapStats().update(clip).gap_vector(), am.gap_vector(clip),
                               atol=1e-12)


def test_brute_force_definitions():
    emb = _synthetic(60, seed=3)
    x, y = emb["image"].astype(np.float64), emb["text"].astype(np.float64)
    stats = am.GapStats(block=7).update(emb).metrics()  # blocks that do not divide N
    cos = x @ x.T
    within = (cos.sum() - np.trace(cos)) / (60 * 59)
    assert stats["cone_cosine:image"] == pytest.approx(within, abs=1e-12)
    d = lambda c: (1 - c) / 2  # noqa: E731
    m = max(1e-3, d(np.mean(np.sum(x * y, axis=1))))
    wy = ((y @ y.T).sum() - np.trace(y @ y.T)) / (60 * 59)
    assert stats["rmg"] == pytest.approx(m / (m + (d(within) + d(wy)) / 2), abs=1e-12)
    assert stats["l2i"] == pytest.approx(np.mean(np.linalg.norm(x - y, axis=1)), abs=1e-12)


def test_over_shards_and_after_merge_equals_metrics(tmp_path, clip):
    for i, (lo, hi) in enumerate(((0, 120), (120, 121), (121, 400), (400, 500))):
        write_shard(tmp_path, i, clip.subset(np.arange(lo, hi)))
    ref = am.metrics(clip, include_separability=False)
    over_shards = am.GapStats().update_shards(tmp_path).metrics()
    _close(over_shards, ref, SUM_KEYS + ("cone_cosine:image", "cone_cosine:text"))
    # one accumulator per shard (one per machine), merged
    parts = [am.GapStats().update(s) for s in am.embeddings.shards.iter_shards(tmp_path)]
    merged = am.GapStats.combine(parts).metrics()
    _close(merged, ref, SUM_KEYS)
    # sent as JSON between processes, then merged
    wire = [am.GapStats.from_dict(json.loads(json.dumps(p.to_dict()))) for p in parts]
    total = wire[0] + wire[1] + wire[2] + wire[3]
    _close(total.metrics(), ref, SUM_KEYS)
    assert total.n == 500 and merged["n_pairs"] == 500
    # the opened folder gives the same metrics as well
    _close(am.metrics(am.Embeddings.open(tmp_path), include_separability=False), ref, SUM_KEYS)


def test_three_modalities_every_pair():
    emb = _synthetic(80, m=3, seed=5)
    stats = am.GapStats().update(emb)
    for a, b in (("image", "text"), ("image", "audio"), ("audio", "text")):
        ref = am.metrics(emb, a, b, include_separability=False)
        _close(stats.metrics(a, b), ref, SUM_KEYS)
    names, table = stats.pair_table("gap_distance")
    assert names == ("image", "text", "audio")
    np.testing.assert_allclose(table, table.T)
    assert table[0, 2] == pytest.approx(am.gap_distance(emb, "image", "audio"))


def test_errors():
    stats = am.GapStats()
    with pytest.raises(ValueError, match="empty"):
        stats.metrics()
    stats.update(_synthetic(10))
    with pytest.raises(ValueError, match="cannot be added"):
        stats.merge(am.GapStats().update(_synthetic(10, d=8)))
    with pytest.raises(ValueError, match="not one of"):
        stats.metrics("image", "audio")
    with pytest.raises(TypeError, match="GapStats"):
        stats.merge({"n": 3})
    with pytest.raises(ValueError, match="block"):
        am.GapStats(block=0)


# ---------------------------------------------------------------- blocked retrieval
def _full_matrix(emb, k, temperature):
    x, y = emb["image"].astype(np.float64), emb["text"].astype(np.float64)
    sims = x @ y.T
    out = {}
    for name, s in (("image->text", sims), ("text->image", sims.T)):
        ranks = np.sum(s > np.diagonal(s)[:, None], axis=1)
        for kk in k:
            out[f"recall@{kk}:{name}"] = float(np.mean(ranks < kk))
    out["info_nce"] = am.losses.info_nce(emb, temperature)
    return out


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_blocked_retrieval_equals_full_matrix(precision, monkeypatch):
    import amumo.analysis.retrieval as retrieval

    monkeypatch.setattr(retrieval, "BLOCK_ENTRIES", 997)  # many small, ragged blocks
    emb = _synthetic(300, seed=1, gap=0.3)
    # exact ties: duplicate rows in both modalities
    x, y = np.array(emb["image"]), np.array(emb["text"])
    x[10] = x[11]
    y[20] = y[21] = y[22]
    emb = am.Embeddings.from_arrays({"image": x, "text": y})
    ref = _full_matrix(emb, (1, 5, 10), 0.05)
    got = retrieval_metrics(emb, temperature=0.05, sample=None, precision=precision)
    for key, value in ref.items():
        tol = 1e-12 if precision == "float64" or not key.startswith("info") else 1e-5
        assert abs(got[key] - value) <= tol, (key, got[key], value)
    assert got["retrieval_exact"] == 1.0
    assert am.recall_at_k(emb, (1, 5)) == {1: ref["recall@1:image->text"],
                                            5: ref["recall@5:image->text"]}


def test_metrics_retrieval_matches_reference_on_clip(clip):
    ref = _full_matrix(clip, (1, 5, 10), 0.01)
    got = am.metrics(clip, include_separability=False)
    for key, value in ref.items():
        assert got[key] == pytest.approx(value, abs=1e-12)
    f32 = retrieval_metrics(clip, precision="float32")
    assert {k: f32[k] for k in ref if k.startswith("recall")} == {
        k: v for k, v in ref.items() if k.startswith("recall")
    }
    assert abs(f32["info_nce"] - ref["info_nce"]) < 1e-5


def test_rank_queries_subset_equals_rows_of_all():
    emb = _synthetic(120, seed=2, gap=0.2)
    full = rank_queries(emb["image"], emb["text"], temperature=0.1)
    sub = rank_queries(emb["image"], emb["text"], np.array([3, 50, 119]), temperature=0.1)
    np.testing.assert_array_equal(sub.ranks, full.ranks[[3, 50, 119]])
    np.testing.assert_allclose(sub.nce, full.nce[[3, 50, 119]], atol=1e-12)


def test_sampled_estimates_cover_the_exact_value():
    emb = _synthetic(3000, d=24, seed=7, gap=0.15)
    exact = retrieval_metrics(emb, temperature=0.05, sample=None)
    est = retrieval_metrics(emb, temperature=0.05, sample=400, seed=0)
    assert est["retrieval_exact"] == 0.0 and est["retrieval_queries"] == 400
    for key in ("recall@1:image->text", "recall@10:text->image", "info_nce"):
        assert est[f"{key}:ci_low"] <= exact[key] <= est[f"{key}:ci_high"], key
        assert est[f"{key}:ci_low"] < est[key] < est[f"{key}:ci_high"]
    assert 0 < exact["recall@1:image->text"] < 1  # not a trivial case
    again = retrieval_metrics(emb, temperature=0.05, sample=400, seed=0)
    assert again == est  # seeded


def test_metrics_sample_api():
    emb = _synthetic(200, seed=9)
    auto = am.metrics(emb, include_separability=False)  # small N: exact
    assert auto["retrieval_exact"] == 1.0 and not any(k.endswith("ci_low") for k in auto)
    est = am.metrics(emb, include_separability=False, sample=50, seed=1)
    assert est["retrieval_exact"] == 0.0 and "recall@1:image->text:ci_low" in est
    assert est["gap_distance"] == auto["gap_distance"]  # sums are always exact
    assert resolve_sample("auto", 10_000) is None and resolve_sample("auto", 10_001) == 1000
    assert resolve_sample(500, 100) is None
    with pytest.raises(ValueError, match="sample="):
        am.metrics(emb, sample="some")
    with pytest.raises(ValueError, match="sample="):
        am.metrics(emb, sample=0)


def test_progress_and_cancel():
    emb = _synthetic(400, seed=4)
    seen = []
    retrieval_metrics(emb, sample=100, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    with pytest.raises(Cancelled):
        am.metrics(emb, sample=None, should_stop=lambda: True)


def test_wilson_interval_limits():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    lo, hi = wilson_interval(30, 100, 0.99)
    lo95, hi95 = wilson_interval(30, 100, 0.95)
    assert lo < lo95 < 0.3 < hi95 < hi


# ---------------------------------------------------------------- one home, one contract
def _analysis_imports() -> dict[str, set[str]]:
    """amumo.analysis module → the amumo.analysis modules it imports (anywhere in the file)."""
    import ast
    from pathlib import Path

    folder = Path(am.__file__).parent / "analysis"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = path.stem
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "amumo.analysis."
            ):
                graph[name].add(node.module.split(".")[2])
            elif isinstance(node, ast.ImportFrom) and node.module == "amumo.analysis":
                graph[name].update(alias.name for alias in node.names)
    return graph


def test_analysis_modules_import_without_cycles():
    # stats -> gap_measures -> metrics -> stats was a cycle; GapStats is now the base.
    graph = _analysis_imports()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path + [nxt])}")
            if nxt in graph and not state.get(nxt):
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [module])
    assert "gap_measures" not in graph["stats"] and "metrics" not in graph["stats"]


def test_sum_views_are_gap_stats_and_read_in_blocks(monkeypatch):
    """rmg, l2i, centroid_cosine, paired_cosine, cone_cosine, alignment all come from
    GapStats: blocking them in 7-row blocks (the one block constant) changes nothing."""
    from amumo.embeddings import _rows

    emb = _synthetic(101, m=3)
    views = lambda: (am.rmg(emb), am.l2i(emb), am.centroid_cosine(emb),  # noqa: E731
                     am.paired_cosine(emb), am.cone_cosine(emb, "audio"), am.alignment(emb))
    stats = am.GapStats().update(emb)
    expected = (stats.rmg(), stats.l2i(), stats.centroid_cosine(), stats.paired_cosine(),
                stats.cone_cosine("audio"), stats.alignment())
    assert views() == expected  # the same sums, the same numbers (bit for bit)
    monkeypatch.setattr(_rows, "ROW_BLOCK", 7)
    assert views() == pytest.approx(expected, rel=1e-12)


def test_paired_and_cone_cosine_make_no_float64_copy():
    import tracemalloc

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 64)).astype(np.float32)
    emb = am.Embeddings.from_arrays({"image": x, "text": x[::-1].copy()})
    whole64 = x.size * 8  # one float64 copy of a modality: 51 MB
    for func in (lambda: am.paired_cosine(emb), lambda: am.cone_cosine(emb, "image")):
        tracemalloc.start()
        func()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < whole64 / 3, peak  # a few blocks (4096 rows), not a whole copy


def _antipodal_images():
    """Images in +/- pairs (their centroid is exactly zero), texts in a cone."""
    rng = np.random.default_rng(1)
    half = rng.normal(size=(6, 8)).astype(np.float32)
    image = np.concatenate([half, -half])
    text = rng.normal(size=(12, 8)) + 4 * np.eye(8)[0]
    return am.Embeddings.from_arrays({"image": image, "text": text})


def test_zero_centroid_gives_nan_everywhere():
    emb = _antipodal_images()
    assert np.allclose(am.GapStats().update(emb).mean("image"), 0, atol=1e-7)
    assert np.isnan(am.centroid_cosine(emb))  # raised ValueError before: one contract now
    assert np.isnan(am.GapStats().update(emb).metrics()["centroid_cosine"])
    assert np.isnan(am.metrics(emb, include_separability=False)["centroid_cosine"])
    assert np.isnan(am.gap_summary(emb, recall=False)["centroid_cosine"])
    assert np.isfinite(am.gap_distance(emb))  # the rest of the report stays defined


def test_one_pair_reports_nan_where_undefined_and_raises_when_asked_alone():
    emb = _synthetic(5).subset([2])
    m = am.metrics(emb)  # KeyError 'cone_cosine:image' before
    for key in ("cone_cosine:image", "cone_cosine:text", "rmg", "uniformity:image",
                "uniformity:text", "separability"):
        assert np.isnan(m[key]), key
    for key in ("gap_distance", "paired_cosine", "l2i", "alignment", "info_nce",
                "recall@1:image->text"):
        assert np.isfinite(m[key]), key
    stats = am.GapStats().update(emb).metrics()
    assert np.isnan(stats["cone_cosine:image"]) and np.isnan(stats["rmg"])
    assert set(stats) == set(am.GapStats().update(_synthetic(5)).metrics())
    with pytest.raises(ValueError, match="at least 2"):
        am.cone_cosine(emb, "image")
    with pytest.raises(ValueError, match="at least 2"):
        am.GapStats().update(emb).cone_cosine("image")


def test_two_pairs_metrics_complete_with_separability_nan():
    emb = _synthetic(5).subset([0, 3])
    m = am.metrics(emb)  # separability's 5-fold CV failed the whole call before
    assert np.isnan(m["separability"])
    assert np.isfinite(m["cone_cosine:image"]) and np.isfinite(m["rmg"])
    assert np.isfinite(m["uniformity:text"])
    assert np.isfinite(am.metrics(_synthetic(5))["separability"])


def test_empty_embeddings_raise_one_clear_error(tmp_path):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((2, 0, 8), dtype=np.float32))
    for mmap in (False, True):  # an empty file is refused at load, as from_arrays refuses N = 0
        with pytest.raises(ValueError, match=r"empty\.npy .*no pairs \(N = 0\)"):
            am.Embeddings.load(path, mmap=mmap)
    # rows already unit length (the path loaders take) can still be empty: the metrics say so
    empty = np.zeros((0, 8), dtype=np.float32)
    emb = am.Embeddings.from_arrays({"image": empty, "text": empty}, normalized=True)
    assert len(emb) == 0
    calls = {
        "gap_distance": lambda: am.gap_distance(emb),  # returned 0.0 before
        "gap_vector": lambda: am.gap_vector(emb),
        "rmg": lambda: am.rmg(emb),  # ZeroDivisionError before
        "l2i": lambda: am.l2i(emb),
        "centroid_cosine": lambda: am.centroid_cosine(emb),
        "paired_cosine": lambda: am.paired_cosine(emb),  # NaN before
        "cone_cosine": lambda: am.cone_cosine(emb, "image"),
        "alignment": lambda: am.alignment(emb),
        "recall_at_k": lambda: am.recall_at_k(emb, 1),
        "metrics": lambda: am.metrics(emb),
        "gap_summary": lambda: am.gap_summary(emb),
        "gap_dimensions": lambda: am.gap_dimensions(emb),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=r"no pairs \(N = 0\)"):
            call()
            pytest.fail(name)
    assert am.GapStats().update(emb).n == 0  # an empty shard adds nothing


def test_rmg_without_spread_is_nan_and_gap_is_zero():
    same = np.tile(np.array([[3.0, 4.0, 0.0, 0.0]], dtype=np.float32), (6, 1))
    emb = am.Embeddings.from_arrays({"image": same, "text": same})
    assert am.gap_distance(emb) == 0.0
    assert np.isnan(am.rmg(emb))  # 0.99998 before: "full gap" with no gap at all
    assert np.isnan(am.GapStats().update(emb).metrics()["rmg"])
    assert np.isnan(am.metrics(emb, include_separability=False)["rmg"])
    # one modality collapsed, the other spread: RMG is defined
    rng = np.random.default_rng(0)
    spread = am.Embeddings.from_arrays({"image": same, "text": rng.normal(size=(6, 4))})
    assert 0 < am.rmg(spread) < 1


def test_cone_cosine_of_unknown_modality_names_the_modalities():
    stats = am.GapStats().update(_synthetic(10))
    with pytest.raises(ValueError, match=r"'audio'.*\('image', 'text'\)"):
        stats.cone_cosine("audio")  # a raw KeyError before
    with pytest.raises(ValueError, match=r"'audio'.*\('image', 'text'\)"):
        stats.mean("audio")
    one = am.GapStats().update(_synthetic(10), ("text",))
    assert one.modalities == ("text",) and one.cone_cosine("text") == stats.cone_cosine("text")
    with pytest.raises(ValueError, match=r"sums of \('text',\) only"):
        one.metrics()  # one modality: no pair to measure


@pytest.mark.parametrize("change, match", [
    (lambda s: s.update(n=-5), r"n=-5"),
    (lambda s: s.update(n=2.5), r"n=2.5"),
    (lambda s: s.update(n=True), r"n=True"),
    (lambda s: s["sum"].update(image=[float("nan")] * 32), r"sum\['image'\].*NaN"),
    (lambda s: s["sum"].update(text=[0.0] * 31), r"sum\['text'\] has shape \(31,\).*dim=32"),
    (lambda s: s.update(dim=16), r"sum\['image'\] has shape \(32,\).*dim=16"),
    (lambda s: s["sumsq"].update(image=float("inf")), r"sumsq\['image'\].*finite"),
    (lambda s: s["pairs"][0].update(dot=float("nan")), r"dot.*finite"),
    (lambda s: s["pairs"][0].update(dist=-1.0), r"dist.*negative"),
    (lambda s: s["pairs"].append(dict(s["pairs"][0])), r"twice"),
    (lambda s: s["pairs"].clear(), r"missing"),
    (lambda s: s["pairs"][0].update(b="audio"), r"'audio'"),
    (lambda s: s.update(modalities=["image", "image"]), r"distinct"),
    (lambda s: s.pop("sum"), r"missing \['sum'\]"),
])
def test_from_dict_rejects_corrupt_state(change, match):
    good = am.GapStats().update(_synthetic(10)).to_dict()
    assert am.GapStats.from_dict(json.loads(json.dumps(good))).metrics() == \
        am.GapStats().update(_synthetic(10)).metrics()
    state = json.loads(json.dumps(good))
    change(state)
    with pytest.raises(ValueError, match=match):
        am.GapStats.from_dict(state)


def test_from_dict_of_an_empty_state_and_wrong_types():
    assert am.GapStats.from_dict(am.GapStats().to_dict()).n == 0
    with pytest.raises(ValueError, match="no modalities"):
        am.GapStats.from_dict({"n": 3, "modalities": []})
    with pytest.raises(TypeError, match="to_dict"):
        am.GapStats.from_dict([1, 2])
