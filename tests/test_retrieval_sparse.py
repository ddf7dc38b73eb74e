"""BM25 sparse vectors and the embedded-mode sparse index: tokenization, weights, and scores equal to
what Qdrant itself computes with its IDF modifier."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from providers.offline.tokens import terms
from retrieval import sparse
from retrieval.knowledge.sparse_index import SparseIndex


def test_tokenize() -> None:
    assert terms("The Chunks of the queries, and BM25!") == ["chunk", "query", "bm25"]
    assert terms("a I x 7") == ["7"]
    assert terms("量子计算机") == ["量子", "子计", "计算", "算机"]
    assert terms("Hello世界") == ["hello", "世界"]
    assert terms("") == []


def test_vectors() -> None:
    doc = sparse.document_vector("apple apple banana")
    assert len(doc.indices) == 2 and doc.indices == sorted(doc.indices)
    weights = dict(zip(doc.indices, doc.values, strict=True))
    assert weights[sparse.term_index("apple")] > weights[sparse.term_index("banana")] > 0
    assert sparse.document_vector("the of and").indices == []
    q = sparse.query_vector("apple apple banana")
    assert q.values == [1.0, 1.0]
    assert sparse.term_index("apple") == sparse.term_index("apple") < 2**32


def test_index_scores_equal_qdrant(tmp_path: Path) -> None:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(300)]
    client = QdrantClient(path=str(tmp_path / "q"))
    client.create_collection(
        "c",
        vectors_config={},
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    index = SparseIndex()
    points = []
    for i in range(400):
        text = " ".join(rng.choice(words[: rng.randint(20, 300)]) for _ in range(rng.randint(5, 60)))
        sv = sparse.document_vector(text)
        user = "u1" if i % 3 else "u2"
        pid = f"00000000-0000-0000-0000-{i:012d}"
        points.append(
            models.PointStruct(
                id=pid,
                vector={"bm25": models.SparseVector(indices=sv.indices, values=sv.values)},
                payload={"user_id": user, "document_id": f"d{i % 7}"},
            )
        )
        index.add(pid, user, f"d{i % 7}", sv.indices, sv.values)
    client.upsert("c", points)
    # Replace and delete some, in both.
    for p in points[:10]:
        index.add(
            str(p.id),
            p.payload["user_id"],
            p.payload["document_id"],
            p.vector["bm25"].indices,
            p.vector["bm25"].values,
        )
    removed = index.remove_document("u1", "d1")
    client.delete(
        "c",
        points_selector=models.FilterSelector(
            filter=models.Filter(
                must=[
                    models.FieldCondition(key="user_id", match=models.MatchValue(value="u1")),
                    models.FieldCondition(key="document_id", match=models.MatchValue(value="d1")),
                ]
            )
        ),
    )
    assert removed > 0 and len(index) == client.count("c").count

    for _ in range(20):
        q = sparse.query_vector(" ".join(rng.choice(words) for _ in range(3)))
        for user in ("u1", "u2"):
            ours = index.search(user, q.indices, q.values, 15)
            theirs = client.query_points(
                "c",
                query=models.SparseVector(indices=q.indices, values=q.values),
                using="bm25",
                query_filter=models.Filter(
                    must=[models.FieldCondition(key="user_id", match=models.MatchValue(value=user))]
                ),
                limit=15,
            ).points
            assert [s for _, s in ours] == pytest.approx([p.score for p in theirs], rel=1e-5)
            if ours:  # same points (those above the cut-off score, where ties could be ordered differently)
                floor = ours[-1][1] * (1 + 1e-6)
                assert {pid for pid, s in ours if s > floor} == {str(p.id) for p in theirs if p.score > floor}
            owners = {int(pid[-12:]) % 3 != 0 for pid, _ in ours}
            assert owners <= ({True} if user == "u1" else {False})
    client.close()
