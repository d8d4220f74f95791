"""The codec between a student's kernel and the checker: what it takes, and all it refuses."""

from __future__ import annotations

import base64
import json
from collections import Counter

import numpy as np
import pytest

from autograder import plain_data
from autograder.plain_data import NotPlain, PlainDataError, TooLarge, decode, encode

PLAIN = [None, True, False, 0, -7, 2**80, 1.5, float("inf"), "", "wine ünïcode", b"\x00\xffbytes", 3 - 4j,
         [1, [2, "x"]], (1, ("a", None)), {"a": 1, (1, "b"): [2.0]}, Counter({("a", "b"): 3}),
         np.arange(12, dtype=np.int32).reshape(3, 4), np.array([[True, False]]), np.array(["ab", "c"]),
         np.array([b"x"]), np.zeros((0, 3)), np.array([1 + 2j]), np.float64(0.25), np.int8(-3), np.bool_(True)]


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is np.ndarray:
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(map(same, a, b))
    if type(a) in (dict, Counter):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_values_come_back_equal_and_of_their_exact_type(value):
    assert same(decode(encode(value)), value)


def test_nan_comes_back_nan():
    assert np.isnan(decode(encode(float("nan"))))


def test_arrays_are_new_writable_arrays_of_the_stated_dtype():
    original = np.arange(6.0).reshape(2, 3)[:, ::2]  # not contiguous
    copy = decode(encode(original))
    assert type(copy) is np.ndarray and copy.flags.writeable and copy.flags.owndata
    np.testing.assert_array_equal(copy, original)


class Sneaky(float):
    def __eq__(self, other):
        return True


class SneakyArray(np.ndarray):
    pass


@pytest.mark.parametrize("value", [Sneaky(1.0), np.arange(3).view(SneakyArray), type("L", (list,), {})(),
                                   {1, 2}, (x for x in range(3)), np.array([object()]), object()],
                         ids=["float-subclass", "ndarray-subclass", "list-subclass", "set", "generator",
                              "object-array", "object"])
def test_what_is_not_plain_goes_to_other_or_is_refused(value):
    with pytest.raises(NotPlain):
        encode(value)
    seen = []
    assert decode(encode([value], other=lambda v, item: seen.append(v) or ["mine"]),
                  extras={"mine": lambda payload, item: "stood in"}) == ["stood in"]
    assert seen == [value]


def test_known_objects_go_as_their_reference():
    argument = [1, 2]
    text = encode(("result", argument), known={id(argument): ["arg", 0]})
    assert decode(text, extras={"arg": lambda payload, item: ("argument", payload[0])}) == ("result", ("argument", 0))


def test_a_huge_array_is_refused_before_it_becomes_bytes():
    ten_gigabytes = np.broadcast_to(np.zeros(1), (10 * 2**30 // 8,))  # no memory: every entry is one float
    with pytest.raises(TooLarge, match="10.0 GiB"):
        encode(ten_gigabytes)


def test_a_huge_string_or_deep_nesting_is_refused():
    with pytest.raises(TooLarge):
        encode("x" * (plain_data.DEFAULT_LIMIT + 1))
    with pytest.raises(TooLarge):
        encode(["x" * 1000] * 2000, limit=10**6)
    deep: list = []
    for _ in range(plain_data.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(TooLarge, match="nested"):
        encode(deep)


def tagged(*parts) -> str:
    return json.dumps(list(parts))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("text", [
    json.dumps({"t": "int"}),  # a JSON object is no value of the codec
    tagged("pickle", b64(b"cos\nsystem\n")),  # no such tag
    tagged("list", "not a list"),
    tagged("tuple", [1], "extra"),
    tagged("dict", [[["list", [1]], 2]]),  # a list is no key
    tagged("dict", [[1]]),
    tagged("bytes", "***"),
    tagged("complex", "1", 2),
    tagged("array", "|O8", [1], b64(bytes(8))),  # objects
    tagged("array", "<V8", [1], b64(bytes(8))),  # raw void
    tagged("array", "<f8", [2], b64(bytes(8))),  # bytes for one float, shape says two
    tagged("array", "<f8", [-1], b64(bytes(8))),
    tagged("array", "<f8", [1] * 40, b64(bytes(8))),
    tagged("array", "[('a', '<f8')]", [1], b64(bytes(8))),
    tagged("scalar", "<f8", b64(bytes(4))),
    tagged("array", "u16", [1], b64(bytes(16))),  # no such NumPy dtype
    tagged("array", "<f8", [0, 2**62, 2**62], b64(b"")),  # no bytes, but a size NumPy cannot hold
    tagged("array", "<U1", [1], b64(b"\xff\xff\xff\xff")),  # not a code point
    '"\\ud800"',  # a lone surrogate: not text that can be shown
    tagged("dict", [["\ud800", 1]]),
    "[" * 100_000,  # the JSON parser's own recursion
    "1" * 5000,  # an integer longer than Python converts
    "not json",
])
def test_malformed_texts_are_refused_with_a_plain_data_error(text):
    with pytest.raises(PlainDataError):
        decode(text)


def test_a_text_over_the_limit_is_refused_before_it_is_parsed():
    with pytest.raises(TooLarge, match="over the limit"):
        decode("[" * 2000 + "]" * 2000, limit=1000)
    with pytest.raises(PlainDataError):
        decode(b"null")


def test_extras_decode_only_their_own_tags():
    text = tagged("handle", 4, "module.Type")
    assert decode(text, extras={"handle": lambda payload, item: ("handle", *payload)}) == ("handle", 4, "module.Type")
    with pytest.raises(PlainDataError, match="unknown tag"):
        decode(text)
