"""Co-purchase ("also bought") counts as a sparse matrix product.

For every anchor product a and every other product p, the number of customers who bought both is
entry (a, p) of Xᵀ·X, where X is the 0/1 customer x product matrix of purchases. The SQL
formulation (a self-join of buyers to their products, then a group-by on the pair) builds one row
per buyer x product pair, about 1.5 billion at 10 million lines, and hashes every one of them; a
sparse matrix product does the same additions in compiled loops over a dense accumulator per
anchor, about 20 times faster (docs/benchmarks.md). int_products_co_purchased reads the result on
DuckDB; the SQL self-join stays as the portable path (Spark, or var co_purchase_engine: sql), and
both give the same rows (tests/python/test_co_purchase.py).

Ranking matches the SQL: within an anchor, co_buyer_count descending, then product key ascending
(the keys follow the sort order of the product ids); only ranks up to the anchor's
candidate_limit are kept; a product is never its own co-purchase.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: Entries of one block's product kept in memory at a time (int32 counts + int32 columns).
BLOCK_ENTRIES = 8_000_000


@dataclass(frozen=True)
class RankedPairs:
    """Kept co-purchase pairs, one entry per row, sorted by anchor then rank."""

    anchor_product_key: np.ndarray
    product_key: np.ndarray
    co_buyer_count: np.ndarray
    candidate_rank: np.ndarray


def _empty() -> RankedPairs:
    empty32 = np.zeros(0, dtype=np.int32)
    return RankedPairs(empty32, empty32.copy(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _rank_block(buyers_by_product: sparse.csr_matrix, purchases: sparse.csr_matrix,
                anchors: np.ndarray, limits: np.ndarray) -> RankedPairs:
    """Count, rank and cut the co-purchases of one block of anchors (one dense row each)."""
    counts = (buyers_by_product[anchors] @ purchases).toarray()
    block_rows, product_count = counts.shape
    counts[np.arange(block_rows), anchors] = 0
    # One sortable key per product, unique within a row: more co-buyers first, then lower key.
    keys = counts.astype(np.int64) * product_count + (product_count - 1 - np.arange(product_count))
    keys[counts == 0] = -1
    top = int(min(limits.max(), product_count))
    if top < product_count:
        candidates = np.argpartition(-keys, top - 1, axis=1)[:, :top]
    else:
        candidates = np.broadcast_to(np.arange(product_count), keys.shape)
    candidate_keys = np.take_along_axis(keys, candidates, axis=1)
    order = np.argsort(-candidate_keys, axis=1)
    candidates = np.take_along_axis(candidates, order, axis=1)
    candidate_keys = np.take_along_axis(candidate_keys, order, axis=1)
    ranks = np.arange(1, top + 1, dtype=np.int64)
    rows, positions = np.nonzero((candidate_keys >= 0) & (ranks[None, :] <= limits[:, None]))
    products = candidates[rows, positions]
    return RankedPairs(anchors[rows].astype(np.int32), products.astype(np.int32),
                       counts[rows, products].astype(np.int64), ranks[positions])


def rank_co_purchases(customer_keys: np.ndarray, product_keys: np.ndarray, anchor_keys: np.ndarray,
                      candidate_limits: np.ndarray, threads: int = 1) -> RankedPairs:
    """Co-buyer counts of each anchor with every other product, ranked and cut.

    customer_keys, product_keys: one entry per customer x product bought (non-negative integer
    keys; a repeated pair counts once). anchor_keys, candidate_limits: the anchors to rank for
    and the most candidates to keep for each. Blocks of anchors run on `threads` threads (the
    sparse product releases the GIL).
    """
    customer_keys = np.asarray(customer_keys, dtype=np.int64)
    product_keys = np.asarray(product_keys, dtype=np.int64)
    anchor_keys = np.asarray(anchor_keys, dtype=np.int64)
    candidate_limits = np.asarray(candidate_limits, dtype=np.int64)
    if len(anchor_keys) != len(candidate_limits):
        raise ValueError("anchor_keys and candidate_limits must have the same length")
    if len(customer_keys) != len(product_keys):
        raise ValueError("customer_keys and product_keys must have the same length")
    if len(anchor_keys) == 0 or len(customer_keys) == 0:
        return _empty()
    if min(customer_keys.min(), product_keys.min(), anchor_keys.min()) < 0:
        raise ValueError("keys must be non-negative")
    product_count = int(max(product_keys.max(), anchor_keys.max())) + 1
    customer_count = int(customer_keys.max()) + 1
    ones = np.ones(len(customer_keys), dtype=np.int32)
    purchases = sparse.csr_matrix((ones, (customer_keys, product_keys)), shape=(customer_count, product_count))
    purchases.sum_duplicates()
    purchases.data[:] = 1  # a pair listed twice is still one buyer
    buyers_by_product = purchases.T.tocsr()

    order = np.argsort(anchor_keys, kind="stable")
    anchors, limits = anchor_keys[order].astype(np.int32), candidate_limits[order]
    block = max(1, BLOCK_ENTRIES // product_count)
    starts = range(0, len(anchors), block)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(pool.map(
            lambda start: _rank_block(buyers_by_product, purchases, anchors[start:start + block],
                                      limits[start:start + block]),
            starts,
        ))
    return RankedPairs(
        np.concatenate([p.anchor_product_key for p in parts]),
        np.concatenate([p.product_key for p in parts]),
        np.concatenate([p.co_buyer_count for p in parts]),
        np.concatenate([p.candidate_rank for p in parts]),
    )
