"""A token's signature is checked once per signer; its times, every time (eoc/app/auth.py)."""

from __future__ import annotations

import pytest

from eoc.app.auth import TokenSigner
from eoc.domain.errors import Unauthorized

KEY = b"test-key-0123456789abcdef0123456789"


def counting(signer: TokenSigner, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    signed: list[str] = []
    sign = signer._sign

    def spy(kid: str, signing_input: str) -> str:
        signed.append(signing_input)
        return sign(kid, signing_input)

    monkeypatch.setattr(signer, "_sign", spy)
    return signed


def test_a_token_verified_once_is_not_signed_again_by_the_same_signer(monkeypatch):
    signer = TokenSigner(KEY)
    token = signer.issue("dispatcher", "QZV", sub="U-1", ttl_s=600)
    signed = counting(signer, monkeypatch)
    first = signer.verify(token)
    again = signer.verify(token)
    assert first == again and first.sub == "U-1"
    assert len(signed) == 1  # every request of its holder, and twice a request (key middleware, endpoint)


def test_a_remembered_token_still_expires_and_its_lifetime_is_still_checked():
    signer = TokenSigner(KEY)
    now = 1_800_000_000.0
    token = signer.issue("dispatcher", "QZV", sub="U-1", ttl_s=600, now=now)
    assert signer.verify(token, now=now).exp == int(now) + 600  # remembered from here on
    with pytest.raises(Unauthorized, match="token expired"):
        signer.verify(token, now=now + 601)
    with pytest.raises(Unauthorized, match="lifetime"):
        signer.verify(token, now=now - 120)  # issued "in the future" by this clock
    assert signer.verify(token, now=now + 599).sub == "U-1"


def test_a_changed_token_is_checked_afresh_and_another_signer_remembers_nothing():
    signer = TokenSigner(KEY)
    token = signer.issue("dispatcher", "QZV", sub="U-1")
    signer.verify(token)
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthorized, match="signature"):
        signer.verify(forged)
    with pytest.raises(Unauthorized, match="signature"):
        TokenSigner(b"another-key-0123456789abcdef012345").verify(token)  # the key retired


def test_the_memory_is_bounded(monkeypatch):
    signer = TokenSigner(KEY)
    monkeypatch.setattr(TokenSigner, "VERIFIED_LIMIT", 3)
    tokens = [signer.issue("dispatcher", "QZV", sub=f"U-{i}") for i in range(7)]
    for token in tokens:
        assert signer.verify(token).sub.startswith("U-")
        assert len(signer._verified) <= 3
