"""The exact encodings behind the round trip (pure: no database)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest

from ganglioside_nb.persistence import _codec


def _via_jsonb(value):
    """What comes back from a JSONB column: text round trip with keys re-ordered as JSONB does."""
    def reorder(v):
        if isinstance(v, dict):
            return {k: reorder(v[k]) for k in sorted(v, key=lambda k: (len(k.encode()), k.encode()))}
        return [reorder(x) for x in v] if isinstance(v, list) else v
    return reorder(json.loads(json.dumps(value, allow_nan=False)))


def test_documents_keep_values_types_and_key_order() -> None:
    value = {"zeta": 1, "a": {"n": float("nan"), "inf": float("-inf"), "neg0": -0.0, "big": 1e22,
                              "t": (1, "x"), "arr": np.arange(3), 5: "int key"}, "list": [{"b": 1, "a": 2}]}
    back = _codec.apply_key_shape(_codec.from_doc(_via_jsonb(_codec.to_doc(value))),
                                  _via_jsonb(_codec.key_shape(value)))
    assert list(back) == ["zeta", "a", "list"] and list(back["a"]) == ["n", "inf", "neg0", "big", "t",
                                                                      "arr", 5]
    assert np.isnan(back["a"]["n"]) and back["a"]["inf"] == float("-inf")
    assert np.signbit(back["a"]["neg0"]) and isinstance(back["a"]["big"], float)
    assert back["a"]["t"] == (1, "x") and back["a"]["arr"].tolist() == [0, 1, 2]
    assert list(back["list"][0]) == ["b", "a"]
    with pytest.raises(TypeError, match="must be JSON-able"):
        _codec.to_doc(object())


def test_frames_round_trip_with_dtypes() -> None:
    frame = pd.DataFrame({
        "i": np.array([1, 2, 3], dtype=np.int64), "f": [0.1, np.nan, -np.inf],
        "s": pd.Series(["x", None, ""], dtype="str"), "b": [True, False, True],
        "n": pd.array([1, None, 3], dtype="Int64"), "o": [{"b": 1, "a": 2}, [1, 2], None]})
    back = _codec.frame_from_doc(_via_jsonb(_codec.frame_to_doc(frame)))
    assert back.equals(frame) and back.dtypes.equals(frame.dtypes)
    assert list(back["o"][0]) == ["b", "a"] and back["s"][2] == "" and pd.isna(back["s"][1])
    empty = frame.iloc[:0]
    assert _codec.frame_from_doc(_codec.frame_to_doc(empty)).dtypes.equals(empty.dtypes)


def _decode(stream: bytes) -> list[list[bytes | None]]:
    """A minimal reader of Postgres' binary COPY format (header, tuples, trailer)."""
    assert stream[:11] == b"PGCOPY\n\xff\r\n\x00"
    at, rows = 19, []
    while (count := struct.unpack(">h", stream[at:at + 2])[0]) != -1:
        at += 2
        row: list[bytes | None] = []
        for _ in range(count):
            (size,) = struct.unpack(">i", stream[at:at + 4])
            at += 4
            row.append(None if size < 0 else stream[at:at + size])
            at += max(size, 0)
        rows.append(row)
    assert at + 2 == len(stream)
    return rows


def test_binary_copy_layout() -> None:
    columns = [
        ("int8", pd.Series([1, 2, 3], dtype=np.int64)),
        ("float8", pd.Series([0.5, np.nan, -0.0])),
        ("bool", pd.Series([True, False, True])),
        ("int4", pd.Series(pd.array([7, None, 9], dtype="Int64"))),
        ("text", pd.Series(["é", None, ""], dtype="str")),
        ("jsonb", pd.Series(['{"a":1}', None, "[]"], dtype=object)),
        ("text", None),
    ]
    encoder = _codec.PgBinaryCopy(columns, 3, rows_per_chunk=2, max_chunk_bytes=1)  # 1 row a chunk
    rows = _decode(b"".join(encoder.chunks()))
    assert rows[0] == [struct.pack(">q", 1), struct.pack(">d", 0.5), b"\x01", struct.pack(">i", 7),
                       "é".encode(), b'\x01{"a":1}', None]
    assert rows[1] == [struct.pack(">q", 2), None, b"\x00", None, None, None, None]
    assert rows[2][1] == struct.pack(">d", -0.0) and rows[2][4] == b"" and rows[2][5] == b"\x01[]"


def test_chunk_reader_passes_bytes_and_raises_encoder_errors() -> None:
    reader = _codec._ChunkReader(iter([b"abc", b"defg"]))
    assert b"".join(iter(lambda: reader.read(2), b"")) == b"abcdefg"
    reader.close()

    def broken():
        yield b"ok"
        raise ValueError("encoder broke")

    with _codec._ChunkReader(broken()) as reader:
        assert reader.read(10) == b"ok"
        with pytest.raises(ValueError, match="encoder broke"):
            reader.read(10)


def test_long_tables_are_packed_and_exact() -> None:
    n = _codec.PACK_ROWS + 5
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "i": rng.integers(-(2**62), 2**62, n), "f": rng.standard_normal(n) * 1e300,
        "b": rng.random(n) < 0.5, "s": pd.Series(rng.choice(["full", "step", ""], n), dtype="str"),
        "m": [[int(k), int(k) + 1] for k in range(n)]})
    frame.loc[0, "f"], frame.loc[1, "f"], frame.loc[2, "s"] = np.nan, -0.0, np.nan
    doc = _via_jsonb(_codec.frame_to_doc(frame))
    assert [d["$packed"] for d in doc["data"][:4]] == ["<i8", "<f8", "|b1", "codes"]
    small = _codec.frame_to_doc(pd.DataFrame({"r": np.arange(n, dtype=np.int64)}))
    assert small["data"][0]["$packed"] == "<i2"  # the narrowest lossless width
    assert isinstance(doc["data"][4], list)  # lists of rows stay JSON
    back = _codec.frame_from_doc(doc)
    assert back.equals(frame) and back.dtypes.equals(frame.dtypes)
    assert np.signbit(back.loc[1, "f"]) and pd.isna(back.loc[2, "s"])
