import pytest

from smalltown.store import InvalidIdError, decode_id, encode_id
from smalltown.store.ids import ALPHABET, base32_decode, base32_encode, new_internal_id

REAL_IDS = ["jh71zt54gee06bn1m56tnxqbcx833qt2", "jh72hgtf1jb17edefc9t99t4ks832x6n"]


@pytest.mark.parametrize("text", REAL_IDS)
def test_ids_from_a_real_export_decode_to_their_table_and_day(text):
    table, internal = decode_id(text)
    assert table == 10004
    assert int.from_bytes(internal[14:], "big") == 20529  # 2026-03-17
    assert encode_id(table, internal) == text


@pytest.mark.parametrize("table", [1, 127, 128, 10001, 16383, 16384, 2**21, 2**32 - 1])
def test_encode_decode_round_trip(table):
    internal = new_internal_id()
    text = encode_id(table, internal)
    assert decode_id(text) == (table, internal)
    assert set(text) <= set(ALPHABET)


def test_user_table_ids_are_32_characters():
    assert len(encode_id(10001, new_internal_id())) == 32


def test_internal_id_carries_the_day():
    internal = new_internal_id(now=20529 * 86400 + 5)
    assert int.from_bytes(internal[14:], "big") == 20529


def test_a_changed_character_fails_the_checksum():
    text = REAL_IDS[0]
    broken = text[:5] + ("0" if text[5] != "0" else "1") + text[6:]
    with pytest.raises(InvalidIdError, match=r"checksum|canonical|layout"):
        decode_id(broken)


def test_non_canonical_padding_is_refused():
    text = REAL_IDS[0]
    # The last character carries padding bits; setting one keeps the bytes but not the text.
    last = ALPHABET.index(text[-1])
    padded = text[:-1] + ALPHABET[last | 1] if not last & 1 else None
    if padded is None:
        padded = text[:-1] + ALPHABET[last & ~1]
    with pytest.raises(InvalidIdError):
        decode_id(padded)


@pytest.mark.parametrize(
    "bad", ["", "short", "jh71zt54gee06bn1m56tnxqbcx833qtU", "i" * 32, "x" * 64, 123, None]
)
def test_malformed_ids_raise_invalid_id(bad):
    with pytest.raises(InvalidIdError):
        decode_id(bad)


def test_encode_rejects_bad_parts():
    with pytest.raises(InvalidIdError):
        encode_id(10001, b"short")
    with pytest.raises(InvalidIdError):
        encode_id(0, bytes(16))


def test_base32_matches_bit_order():
    assert base32_encode(b"\xff") == "zw"
    assert base32_decode("zw") == b"\xff"


def test_fletcher16_is_the_running_sums_modulo_256():
    import random

    from smalltown.store.ids import fletcher16

    def running(data: bytes) -> int:
        c0 = c1 = 0
        for byte in data:
            c0 = (c0 + byte) & 0xFF
            c1 = (c1 + c0) & 0xFF
        return (c1 << 8) | c0

    rng = random.Random(5)
    for data in [b"", b"\xff" * 300, *(rng.randbytes(rng.randint(1, 40)) for _ in range(2000))]:
        assert fletcher16(data) == running(data)


def test_a_character_outside_the_alphabet_is_named():
    good = encode_id(10004, bytes(16))
    with pytest.raises(InvalidIdError, match="character 'u' is not in the id alphabet"):
        decode_id(good[:5] + "u" + good[6:])
