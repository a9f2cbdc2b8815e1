"""Co-purchase counts of every anchor in use, ranked and cut, on dense integer keys: the DuckDB
path of int_products_co_purchased (var co_purchase_engine, docs/metrics.md "Recommendations").

The counts are the sparse matrix product of the customer x product purchase matrix with itself
(spendlens.co_purchase); the SQL self-join in int_products_co_purchased gives the same rows and
is the path on engines without Python models. Output: anchor_product_key, product_key,
co_buyer_count, candidate_rank (1 = most co-buyers, ties by product key), cut at the anchor's
candidate_limit (int_co_purchase_anchors).
"""

from __future__ import annotations

import pyarrow as pa

from spendlens.co_purchase import rank_co_purchases


def model(dbt, session) -> pa.Table:
    dbt.config(materialized="table")
    threads = int(session.execute("select current_setting('threads')").fetchall()[0][0])
    bought = (dbt.ref("int_customer_products_listed").filter("is_bought")
              .project("customer_key, product_key").fetchnumpy())
    anchors = dbt.ref("int_co_purchase_anchors").project("anchor_product_key, candidate_limit").fetchnumpy()
    ranked = rank_co_purchases(bought["customer_key"], bought["product_key"], anchors["anchor_product_key"],
                               anchors["candidate_limit"], threads=threads)
    return pa.table({
        "anchor_product_key": pa.array(ranked.anchor_product_key, pa.int32()),
        "product_key": pa.array(ranked.product_key, pa.int32()),
        "co_buyer_count": pa.array(ranked.co_buyer_count, pa.int64()),
        "candidate_rank": pa.array(ranked.candidate_rank, pa.int64()),
    })
