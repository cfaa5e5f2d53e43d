"""Signatures of model_info.json: what they cover, which keys they accept."""

import json

import pytest

from forecasting.store.signature import Signer, canonical, key_id

INFO = {"product_id": 4, "files": {"rf_model.pkl": {"sha256": "ab" * 32, "bytes": 10}}, "weights": {"lstm": 0.5}}


def test_a_signed_info_verifies_and_survives_a_json_round_trip():
    signer = Signer(["key one"])
    signed = signer.sign(INFO)
    assert signed["signature"]["algorithm"] == "HMAC-SHA256"
    assert signed["signature"]["key_id"] == key_id(b"key one") == signer.key_id
    assert signer.problem(signed) is None
    reordered = json.loads(json.dumps(dict(reversed(list(signed.items()))), indent=2))
    assert signer.problem(reordered) is None
    assert "signature" not in INFO  # the caller's dict is left alone


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda i: i.pop("signature"), "it has no signature"),
        (lambda i: i["files"]["rf_model.pkl"].update(sha256="cd" * 32), "its signature does not match its content"),
        (lambda i: i["files"].update({"x.pkl": {"sha256": "00", "bytes": 1}}), "does not match its content"),
        (lambda i: i.update(product_id=5), "does not match its content"),
        (lambda i: i["signature"].update(value="0" * 64), "does not match its content"),
        (lambda i: i["signature"].update(key_id="feedfeedfeedfeed"), "a key this service does not hold"),
        (lambda i: i["signature"].update(algorithm="none"), "is not an HMAC-SHA256 signature"),
        (lambda i: i.update(signature="forged"), "is not an HMAC-SHA256 signature"),
        (lambda i: i["signature"].pop("value"), "has no value"),
    ],
)
def test_any_change_or_a_missing_signature_is_refused(change, problem):
    signer = Signer(["key one"])
    signed = json.loads(json.dumps(signer.sign(INFO)))
    change(signed)
    assert problem in signer.problem(signed)


def test_a_set_signed_under_another_key_is_refused():
    ours, theirs = Signer(["production key"]), Signer(["staging key"])
    problem = ours.problem(theirs.sign(INFO))
    assert problem == f"it is signed by a key this service does not hold (key id {theirs.key_id!r})"


def test_rotation_signs_with_the_first_key_and_accepts_the_others():
    old = Signer(["old key"])
    rotated = Signer(["new key", "old key"])
    assert rotated.problem(old.sign(INFO)) is None
    assert rotated.sign(INFO)["signature"]["key_id"] == key_id(b"new key")
    assert rotated.key_ids == (key_id(b"new key"), key_id(b"old key"))
    assert old.problem(rotated.sign(INFO)) is not None  # the old key alone cannot read new sets


def test_the_canonical_form_leaves_out_the_signature_and_orders_keys():
    assert canonical({"b": 1, "a": [1, 2], "signature": {"value": "x"}}) == b'{"a":[1,2],"b":1}'


@pytest.mark.parametrize("keys", [[], [""], ["good", b""]])
def test_a_signer_needs_non_empty_keys(keys):
    with pytest.raises(ValueError, match="at least one non-empty key"):
        Signer(keys)


def test_the_key_id_does_not_reveal_the_key():
    assert "secret" not in key_id(b"secret") and len(key_id(b"secret")) == 16
