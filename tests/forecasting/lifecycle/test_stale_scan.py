"""The stale scan reads the sales of products whose sales token moved, and only those."""

from datetime import timedelta

from sqlalchemy import text

from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import stale_scan, steps
from forecasting.store.model_store import ModelStore
from tests.forecasting.conftest import make_signer


def test_the_scan_hashes_only_the_products_whose_sales_changed(engine, tmp_path, history, small_params, monkeypatch):
    store = ModelStore(tmp_path / "models", signer=make_signer())
    policy = steps.Policy(params=small_params, min_samples=100, max_age=timedelta(days=7))
    rows = [(d.date(), float(v)) for d, v in history.items()]
    ids = [create_product(engine, name=name)["id"] for name in ("a", "b", "new")]
    for pid in ids:
        upsert_sales(engine, product_id=pid, rows=rows)
    for pid in ids[:2]:
        steps.train(engine=engine, store=store, history=load_history(engine, product_id=pid), policy=policy,
                       reason="test")
    read = []
    real = stale_scan.all_fingerprints
    monkeypatch.setattr(stale_scan, "all_fingerprints", lambda engine, product_ids: read.append(product_ids) or real(
        engine, product_ids=product_ids))

    def scan():
        read.clear()
        return stale_scan.stale_products(engine=engine, store=store, policy=policy)

    assert scan() == ([(ids[2], "missing")], {"products": 3, "too_short": 0, "fresh": 2, "stale": 1})
    assert read == [[ids[2]]]  # a and b: their tokens are the ones their sets recorded

    upsert_sales(engine, product_id=ids[1], rows=[(rows[-1][0] + timedelta(days=1), 5.0)])
    assert scan()[0] == [(ids[1], "data_changed"), (ids[2], "missing")]
    assert read == [[ids[1], ids[2]]]

    # A change undone: a new token, the same sales; read again, and found fresh.
    for quantity in (rows[0][1] + 1, rows[0][1]):
        with engine.begin() as conn:
            conn.execute(text("UPDATE sales SET quantity = :q WHERE product_id = :p AND date = :d"),
                         {"q": quantity, "p": ids[0], "d": rows[0][0]})
    assert scan()[0] == [(ids[1], "data_changed"), (ids[2], "missing")]
    assert read == [ids]
