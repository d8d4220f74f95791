"""Plain data between a student's kernel and the checker: a strict, size-capped codec.

The checker (autograder/checker_kernel.py) judges a submission from what the
student's kernel sends it, and the student controls every byte of that. So
nothing the student sends is ever unpickled or evaluated: it is JSON text in
which every value is one of

- ``null``, ``true``, ``false``, a JSON number or string: None, bool, int, float, str;
- a tagged list ``[tag, ...]``: ``["list", [...]]``, ``["tuple", [...]]``,
  ``["dict", [[key, value], ...]]``, ``["counter", [[key, count], ...]]``,
  ``["bytes", base64]``, ``["complex", real, imaginary]``,
  ``["array", dtype, shape, base64]`` (a NumPy array of a numeric, boolean or
  string dtype), ``["scalar", dtype, base64]`` (a NumPy scalar of such a dtype);
- or a tag that the caller decodes itself (``extras``: the checker's handles,
  callbacks and random generators).

``decode`` refuses a text longer than the limit before parsing it, and then
builds every value itself: exact builtin types, never subclasses; arrays are
new arrays made from their bytes, of the dtype and shape they state, checked
against the bytes' length. Dictionary keys must be hashable plain values.

``encode`` is the other direction, on either side. Values that are not plain
(a generator, a Keras layer, a float subclass) go to ``other``, which returns a
tagged list for them or raises ``NotPlain``; objects in ``known`` are sent as
the tagged list given for them (the other side's own arguments, by reference). It counts the size as it goes and
refuses a value over the limit before building its text (an array is measured
by its ``nbytes``, so a 10 GB array never becomes bytes).

This file runs in the student's kernel too (the checker sends its source), so
it imports nothing from the course.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter

import numpy as np

DEFAULT_LIMIT = 64 * 2**20  # bytes of JSON text, either way
MAX_DEPTH = 64
MAX_DIMENSIONS = 32
ARRAY_KINDS = "biufcUS"  # bool, integers, floats, complex, str, bytes
DTYPE_TEXT = re.compile(r"[<>|=]?[biufcUS]\d{1,5}")
CONTAINERS = {"list": list, "tuple": tuple}


class PlainDataError(ValueError):
    """What a text or a value breaks: too large, not plain, or malformed."""


class TooLarge(PlainDataError):
    pass


class NotPlain(PlainDataError):
    pass


def size_text(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def is_array_dtype(dtype: np.dtype) -> bool:
    return dtype.kind in ARRAY_KINDS and dtype.fields is None and dtype.subdtype is None and not dtype.hasobject


def exact_numpy_scalar(value) -> bool:
    """A NumPy scalar of its own exact type (np.float64, np.int32, np.bool_...), no subclass."""
    if not isinstance(value, np.generic):
        return False
    try:
        dtype = np.dtype(type(value))
    except TypeError:
        return False
    return dtype.type is type(value) and is_array_dtype(dtype)


class Encoder:
    """One value to tagged JSON-ready lists, with a running size count."""

    def __init__(self, other=None, limit: int = DEFAULT_LIMIT, known=None):
        self.other = other
        self.limit = limit
        self.known = known or {}  # id(object) -> the tagged list that stands for it (the caller's own objects)
        self.size = 0

    def count(self, size: int, what: str) -> None:
        self.size += size
        if self.size > self.limit:
            raise TooLarge(f"{what} makes the data over the limit of {size_text(self.limit)}")

    def __call__(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise TooLarge(f"data nested deeper than {MAX_DEPTH} levels")
        kind = type(value)
        self.count(8, "one more value")
        if id(value) in self.known:
            return self.known[id(value)]
        if value is None or kind is bool or kind is int:
            if kind is int and value.bit_length() > 4096:
                raise TooLarge("an integer of more than 4096 bits")
            return value
        if kind is float:
            return value
        if kind is str:
            self.count(len(value), f"a string of {len(value):,} characters")
            return value
        if kind is bytes:
            self.count(len(value) * 4 // 3, f"{len(value):,} bytes")
            return ["bytes", base64.b64encode(value).decode("ascii")]
        if kind is complex:
            return ["complex", value.real, value.imag]
        if kind in (list, tuple):
            return [kind.__name__, [self(item, depth + 1) for item in value]]
        if kind is dict or kind is Counter:
            tag = "dict" if kind is dict else "counter"
            return [tag, [[self(key, depth + 1), self(item, depth + 1)] for key, item in value.items()]]
        if kind is np.ndarray and is_array_dtype(value.dtype):
            return self.array(value)
        if exact_numpy_scalar(value):
            return ["scalar", value.dtype.str, base64.b64encode(value.tobytes()).decode("ascii")]
        if self.other is None:
            raise NotPlain(f"a {kind.__module__}.{kind.__qualname__} is not plain data")
        return self.other(value, lambda item: self(item, depth + 1))

    def array(self, value: np.ndarray):
        self.count(value.nbytes * 4 // 3, f"an array of {size_text(value.nbytes)} (shape {value.shape})")
        data = np.ascontiguousarray(value).tobytes()
        return ["array", value.dtype.str, list(value.shape), base64.b64encode(data).decode("ascii")]


def encode(value, other=None, limit: int = DEFAULT_LIMIT, known=None) -> str:
    """``value`` as the codec's JSON text; NotPlain or TooLarge if it cannot be.

    ``other(value, encode_item)``: a tagged list for a value that is not plain, or NotPlain.
    ``known``: {id(object): tagged list} for objects the other side already holds."""
    tree = Encoder(other, limit, known)(value)
    return json.dumps(tree, separators=(",", ":"))


class Decoder:
    """Tagged JSON-ready lists back to values, checking every node."""

    def __init__(self, extras=None):
        self.extras = extras or {}

    def __call__(self, node, depth: int = 0):
        if depth > MAX_DEPTH:
            raise PlainDataError(f"data nested deeper than {MAX_DEPTH} levels")
        kind = type(node)
        if kind is str and not valid_text(node):
            raise PlainDataError("a string that is not valid Unicode text (a lone surrogate)")
        if node is None or kind in (bool, int, float, str):
            return node
        if kind is not list or not node or type(node[0]) is not str:
            raise PlainDataError(f"not a value of the codec: a JSON {kind.__name__}")
        tag, payload = node[0], node[1:]
        if tag in CONTAINERS:
            return CONTAINERS[tag](self(item, depth + 1) for item in self.items(payload, tag))
        if tag in ("dict", "counter"):
            pairs = [self.pair(entry, depth) for entry in self.items(payload, tag)]
            return dict(pairs) if tag == "dict" else Counter(dict(pairs))
        if tag == "bytes":
            return unbase64(single(payload, str, tag))
        if tag == "complex":
            real, imaginary = fixed(payload, 2, tag)
            return complex(number(real), number(imaginary))
        if tag == "array":
            dtype, shape, data = fixed(payload, 3, tag)
            return rebuilt_array(dtype, shape, data)
        if tag == "scalar":
            dtype, data = fixed(payload, 2, tag)
            return rebuilt_array(dtype, [], data)[()]
        if tag in self.extras:
            return self.extras[tag](payload, lambda item: self(item, depth + 1))
        raise PlainDataError(f"unknown tag {tag[:40]!r}")

    @staticmethod
    def items(payload, tag) -> list:
        return single(payload, list, tag)

    def pair(self, entry, depth: int):
        if type(entry) is not list or len(entry) != 2:
            raise PlainDataError("a dict entry is not a [key, value] pair")
        key = self(entry[0], depth + 1)
        if not hashable_plain(key):
            raise PlainDataError(f"a {type(key).__name__} cannot be a dict key")
        return key, self(entry[1], depth + 1)


def single(payload: list, kind: type, tag: str):
    (value,) = fixed(payload, 1, tag)
    if type(value) is not kind:
        raise PlainDataError(f"{tag}: a {kind.__name__} was expected, not a {type(value).__name__}")
    return value


def fixed(payload: list, length: int, tag: str) -> list:
    if len(payload) != length:
        raise PlainDataError(f"{tag}: {length} parts expected, not {len(payload)}")
    return payload


def number(value) -> float:
    if type(value) not in (int, float):
        raise PlainDataError(f"a number was expected, not a {type(value).__name__}")
    return float(value)


def unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise PlainDataError(f"bad base64: {error}") from None


def hashable_plain(key) -> bool:
    if key is None or type(key) in (bool, int, float, str, bytes, complex) or exact_numpy_scalar(key):
        return True
    return type(key) is tuple and all(hashable_plain(item) for item in key)


def valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def rebuilt_array(dtype_text, shape, data) -> np.ndarray:
    """A new array from its stated dtype and shape and its bytes, which must agree; any other failure of
    NumPy's on the way is the codec's refusal too."""
    try:
        array = checked_array(dtype_text, shape, data)
        if array.dtype.kind == "U":
            array.astype(object)  # every code point must be one (NumPy refuses those past U+10FFFF here)
        return array
    except PlainDataError:
        raise
    except Exception as error:
        raise PlainDataError(f"an array the checker cannot rebuild: {type(error).__name__}: {str(error)[:100]}") from None


def checked_array(dtype_text, shape, data) -> np.ndarray:
    if type(dtype_text) is not str or not DTYPE_TEXT.fullmatch(dtype_text):
        raise PlainDataError(f"not an array dtype the checker takes: {str(dtype_text)[:40]!r}")
    dtype = np.dtype(dtype_text)
    if not is_array_dtype(dtype) or dtype.itemsize == 0:
        raise PlainDataError(f"not an array dtype the checker takes: {dtype_text!r}")
    if type(shape) is not list or len(shape) > MAX_DIMENSIONS or any(type(n) is not int or n < 0 for n in shape):
        raise PlainDataError("an array's shape must be a short list of sizes")
    if type(data) is not str:
        raise PlainDataError("an array's data must be base64 text")
    raw = unbase64(data)
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(raw):
        raise PlainDataError(f"an array of shape {tuple(shape)} and dtype {dtype} needs {count * dtype.itemsize} "
                             f"bytes, not {len(raw)}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(text, extras=None, limit: int = DEFAULT_LIMIT):
    """The value a text of the codec holds; PlainDataError for anything else.

    ``extras``: {tag: build(payload, decode_item)} for tags the caller knows."""
    if type(text) is not str:
        raise PlainDataError(f"the data must be text, not a {type(text).__name__}")
    if len(text) > limit:
        raise TooLarge(f"{size_text(len(text))} of data is over the limit of {size_text(limit)}")
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PlainDataError(f"not JSON: {str(error)[:200]}") from None
    return Decoder(extras)(tree)
