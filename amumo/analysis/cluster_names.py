"""Names for clusters: the most distinctive words of their captions (class-based TF-IDF).

Class-based TF-IDF (Grootendorst, "BERTopic: Neural topic modeling with a
class-based TF-IDF procedure", arXiv 2203.05794, 2022) treats all documents of a
cluster as one document and weighs term ``t`` in cluster ``c`` by

``W(t, c) = tf(t, c) · log(1 + A / f(t))``

where ``tf(t, c)`` is the frequency of ``t`` in cluster ``c`` divided by the
number of terms of ``c``, ``f(t)`` the frequency of ``t`` over all clusters and
``A`` the average number of terms per cluster. Terms frequent in one cluster and
rare elsewhere score highest. Here a term counts once per caption (captions are
short; a repeated word says little more), English stop words are dropped, a
plural ``-s`` is folded onto its singular when both occur, and a term must occur
in at least ``min_df`` captions of the cluster, so that one odd caption cannot
name a cluster.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["cluster_names", "cluster_terms", "class_tfidf", "tokenize", "STOP_WORDS"]

#: English stop words (articles, pronouns, auxiliaries, prepositions, conjunctions,
#: quantifiers) plus caption filler such as "photo", "image", "picture".
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above across after again against all almost along also although am among an and
    another any are around as at away back be because been before behind being below beneath
    beside besides between beyond both but by can could did do does doing down during each
    either else etc few for from front further get gets getting got had has have having he
    her here hers herself him himself his how i if in inside into is it its itself just
    least less like many may me might more most much must my myself near next no nor not
    now of off on once one onto only or other our ours out outside over own per perhaps
    quite rather really same several she should since so some something such than that the
    their theirs them themselves then there these they this those though three through
    throughout thru to together too toward towards two under underneath until up upon us
    very via was we well were what when where whether which while who whom whose why will
    with within without would yet you your yours
    image images photo photos picture pictures shown showing shows view close someone
    """.split()
)

_TOKEN = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")


def tokenize(text: Any, stop_words: Iterable[str] | None = STOP_WORDS) -> list[str]:
    """Lower-case words of two or more letters, without stop words and possessive 's.

    Examples
    --------
    >>> tokenize("A dog's bowl on the kitchen floor.")
    ['dog', 'bowl', 'kitchen', 'floor']
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return [w for w in _words_with_gaps(text, stop_words) if w is not None]


def _words_with_gaps(text: Any, stop_words: Iterable[str] | None) -> list[str | None]:
    """Words in order, ``None`` where a stop word (or a one-letter word) stood."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    stop = stop_words if isinstance(stop_words, frozenset) else frozenset(stop_words or ())
    words: list[str | None] = []
    for word in _TOKEN.findall(str(text).lower()):
        if word.endswith("'s"):
            word = word[:-2]
        word = word.strip("'")
        words.append(word if len(word) >= 2 and word not in stop else None)
    return words


def _check_inputs(texts: Sequence[Any], labels: Any) -> tuple[list[Any], np.ndarray]:
    if isinstance(texts, str):
        raise TypeError("texts is a single string; pass one caption per item (a list).")
    texts = list(texts)
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(texts):
        raise ValueError(
            f"labels has shape {labels.shape} but there are {len(texts)} texts; pass one "
            "cluster label per text."
        )
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels has dtype {labels.dtype}; pass integer cluster labels.")
    if len(labels) and labels.min() < 0:
        raise ValueError("labels must be ≥ 0 (cluster ids 0..k-1).")
    return texts, labels.astype(np.intp)


def _documents(
    texts: list[Any], stop_words: Iterable[str] | None, bigrams: bool = True
) -> list[set[str]]:
    """Each caption as its set of terms: words, and (``bigrams``) pairs of adjacent
    words with no stop word between them ("fire hydrant", "teddy bear")."""
    stop = frozenset(stop_words or ())
    sequences = [_words_with_gaps(t, stop) for t in texts]
    vocabulary = {w for seq in sequences for w in seq if w is not None}
    # Fold a plural onto its singular when both are used ("toilets" -> "toilet").
    fold = {}
    for word in vocabulary:
        for cut in ("es", "s"):
            if word.endswith(cut) and len(word) > len(cut) + 2 and word[: -len(cut)] in vocabulary:
                fold[word] = word[: -len(cut)]
                break
    docs = []
    for seq in sequences:
        seq = [None if w is None else fold.get(w, w) for w in seq]
        terms = {w for w in seq if w is not None}
        if bigrams:
            terms.update(
                f"{a} {b}" for a, b in zip(seq, seq[1:], strict=False)
                if a is not None and b is not None
                and a != b
            )
        docs.append(terms)
    return docs


def class_tfidf(
    texts: Sequence[Any],
    labels: Any,
    *,
    stop_words: Iterable[str] | None = STOP_WORDS,
    n_clusters: int | None = None,
    bigrams: bool = True,
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The class-based TF-IDF matrix of captions grouped by cluster.

    Parameters
    ----------
    texts : sequence of str
        One caption per item.
    labels : array of int, shape (n,)
        Cluster of each item, ``0 .. k-1``.
    stop_words : iterable of str or None, default :data:`STOP_WORDS`
    n_clusters : int, optional
        ``k`` (default ``max(labels) + 1``).
    bigrams : bool, default True
        Also count pairs of adjacent words with no stop word between them.

    Returns
    -------
    weights : ndarray (k, V)
        ``W(t, c)`` as in the module docstring.
    vocabulary : list of str (V,)
        Terms, sorted.
    doc_freq : ndarray of int (k, V)
        Captions of cluster ``c`` that contain term ``t``.

    Examples
    --------
    >>> w, vocab, df = class_tfidf(["red apple", "red cherry", "blue sky"], [0, 0, 1],
    ...                            bigrams=False)
    >>> vocab
    ['apple', 'blue', 'cherry', 'red', 'sky']
    >>> vocab[int(w[0].argmax())], vocab[int(w[1].argmax())] in ("blue", "sky")
    ('red', True)
    """
    texts, labels = _check_inputs(texts, labels)
    k = int(labels.max()) + 1 if len(labels) else 0
    if n_clusters is not None:
        if int(n_clusters) < k:
            raise ValueError(f"n_clusters={n_clusters} is below max(labels) + 1 = {k}.")
        k = int(n_clusters)
    docs = _documents(texts, stop_words, bigrams)
    vocabulary = sorted(set().union(*docs)) if docs else []
    index = {t: j for j, t in enumerate(vocabulary)}
    doc_freq = np.zeros((k, len(vocabulary)), dtype=np.int64)
    for doc, c in zip(docs, labels, strict=True):
        for term in doc:
            doc_freq[c, index[term]] += 1
    per_class = doc_freq.sum(axis=1, keepdims=True)
    tf = np.divide(doc_freq, per_class, out=np.zeros(doc_freq.shape), where=per_class > 0)
    total = doc_freq.sum(axis=0)
    nonempty = max(1, int(np.count_nonzero(per_class)))
    average = float(per_class.sum()) / nonempty
    idf = np.log1p(np.divide(average, total, out=np.zeros(total.shape), where=total > 0))
    return tf * idf, vocabulary, doc_freq


def cluster_terms(
    texts: Sequence[Any],
    labels: Any,
    n_terms: int = 3,
    *,
    stop_words: Iterable[str] | None = STOP_WORDS,
    min_df: int = 2,
    n_clusters: int | None = None,
    max_per_cluster: int | None = None,
    seed: int = 0,
    bigrams: bool = True,
) -> pd.DataFrame:
    """The top ``n_terms`` terms of each cluster with their c-TF-IDF score.

    A term must occur in at least ``min(min_df, cluster size)`` captions of the
    cluster. Ties are broken by the number of captions, two-word terms first, then
    alphabetically.
    With ``max_per_cluster``, clusters larger than that are represented by a seeded
    random sample of that many captions (tokenising is the cost: about 45 µs per
    caption on one core), so naming scales to millions of pairs; ``size`` still
    reports the full cluster. Terms are chosen best first, skipping a term that shares
    a word with one already chosen (so "teddy bear" is not followed by "bear").

    Returns
    -------
    DataFrame with columns ``cluster, rank, term, score, captions, size``.

    Examples
    --------
    >>> cluster_terms(["red apple", "red cherry", "blue sky", "blue sea"], [0, 0, 1, 1],
    ...               n_terms=1)[["cluster", "term", "captions"]]
       cluster  term  captions
    0        0   red         2
    1        1  blue         2
    """
    if isinstance(n_terms, bool) or int(n_terms) != n_terms or n_terms < 1:
        raise ValueError(f"n_terms={n_terms!r} must be a positive integer.")
    if isinstance(min_df, bool) or int(min_df) != min_df or min_df < 1:
        raise ValueError(f"min_df={min_df!r} must be a positive integer.")
    texts, labels = _check_inputs(texts, labels)
    sizes = Counter(labels.tolist())
    if n_clusters is None:
        n_clusters = int(labels.max()) + 1 if len(labels) else 0
    if max_per_cluster is not None:
        keep = _sample_per_cluster(labels, int(max_per_cluster), seed)
        texts, labels = [texts[i] for i in keep], labels[keep]
    weights, vocabulary, doc_freq = class_tfidf(
        texts, labels, stop_words=stop_words, n_clusters=n_clusters, bigrams=bigrams
    )
    sampled = Counter(labels.tolist())
    rows = []
    for c in range(weights.shape[0]):
        need = min(int(min_df), max(1, sampled.get(c, 0)))
        ok = np.flatnonzero((doc_freq[c] >= need) & (weights[c] > 0))
        # Best weight first; on a tie the two-word term ("teddy bear" over "teddy": it
        # says more), then the more frequent, then alphabetically.
        ranked = sorted(ok, key=lambda j: (
            -round(float(weights[c, j]), 12), -doc_freq[c, j], -vocabulary[j].count(" "),
            vocabulary[j],
        ))
        chosen: list[int] = []
        used: set[str] = set()
        for j in ranked:
            words = set(vocabulary[j].split())
            if words & used:
                continue
            chosen.append(j)
            used |= words
            if len(chosen) == int(n_terms):
                break
        for rank, j in enumerate(chosen):
            rows.append({
                "cluster": c, "rank": rank, "term": vocabulary[j],
                "score": float(weights[c, j]), "captions": int(doc_freq[c, j]),
                "size": int(sizes.get(c, 0)),
            })
    columns = ["cluster", "rank", "term", "score", "captions", "size"]
    return pd.DataFrame(rows, columns=columns)


def cluster_names(
    texts: Sequence[Any],
    labels: Any,
    n_terms: int = 3,
    *,
    separator: str = " | ",
    stop_words: Iterable[str] | None = STOP_WORDS,
    min_df: int = 2,
    n_clusters: int | None = None,
    max_per_cluster: int | None = None,
    seed: int = 0,
    bigrams: bool = True,
) -> list[str]:
    """A name per cluster: its most distinctive caption words joined by ``separator``.

    Parameters
    ----------
    texts : sequence of str
        One caption per item (pairs' captions).
    labels : array of int
        Cluster of each item, ``0 .. k-1`` (e.g. ``Heatmap.cluster_labels``).
    n_terms : int, default 3
    separator : str, default " | "
    stop_words : iterable of str or None, default :data:`STOP_WORDS`
    min_df : int, default 2
        Captions of the cluster a term must occur in (capped at the cluster size).
    n_clusters : int, optional
    max_per_cluster : int, optional
        Name large clusters from a seeded sample of this many captions (see
        :func:`cluster_terms`).
    seed : int, default 0
    bigrams : bool, default True
        Two-word terms too ("fire hydrant"); a chosen term's words are not repeated.

    Returns
    -------
    list of str
        ``names[c]`` for cluster ``c``; ``""`` when a cluster has no usable words.

    Examples
    --------
    >>> texts = ["a toilet in a bathroom", "white toilet and sink", "a dog on grass",
    ...          "two dogs playing", "the dog runs on the grass"]
    >>> cluster_names(texts, [0, 0, 1, 1, 1])
    ['toilet', 'dog | grass']
    """
    terms = cluster_terms(
        texts, labels, n_terms, stop_words=stop_words, min_df=min_df, n_clusters=n_clusters,
        max_per_cluster=max_per_cluster, seed=seed, bigrams=bigrams,
    )
    k = int(np.max(labels)) + 1 if len(labels) else 0
    if n_clusters is not None:
        k = int(n_clusters)
    names = [""] * k
    for c, group in terms.groupby("cluster", sort=True):
        names[int(c)] = separator.join(group.sort_values("rank")["term"])
    return names


def _sample_per_cluster(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices keeping at most ``limit`` seeded random items of each cluster."""
    if limit < 1:
        raise ValueError(f"max_per_cluster={limit} must be at least 1.")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) > limit:
            members = rng.choice(members, size=limit, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.intp)
