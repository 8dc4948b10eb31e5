#!/usr/bin/env python3
"""STAND-IN for the MongoDB Atlas Data API v1 -- NOT MongoDB.

MongoDB cannot be installed on the machines these tests run on, so this file is
a small in-memory imitation of the HTTP "action" API of the MongoDB Atlas Data
API v1 (the same API FerretDB serves).  The product's Rust tests start it as a
subprocess and talk to it over HTTP.  It is a test double, not a database:
everything lives in process memory and disappears when the process exits.

The same conformance suite of the product runs against a real Data API
endpoint (MongoDB Atlas or FerretDB) when the environment variable
USSO_TEST_MONGO_DATA_API_URL is set; keep this stand-in honest by comparing
against that whenever behaviour is in doubt.

Implemented
  * POST .../action/{findOne,find,insertOne,insertMany,updateOne,updateMany,
    deleteOne,deleteMany,aggregate}; auth by `apiKey` header or HTTP Basic.
  * Request and response bodies in Extended JSON v2 (canonical or relaxed in,
    canonical out when `Accept` contains application/ejson, relaxed otherwise)
    with exact round-tripping of int32, int64, double, Decimal128 (kept as its
    string), date, ObjectId, binary, timestamp, minKey/maxKey.
  * Filters: implicit equality with dotted paths and array matching, $eq $ne
    $gt $gte $lt $lte $in $nin $exists $not $and $or $nor, $regex with the
    option i (Python `re` syntax; the product sends only escaped literals);
    BSON comparison and sort order.
  * Projections (inclusion / exclusion), sort, skip, limit.
  * Updates: $set $unset $inc $setOnInsert $min $max, replacement documents
    (updateOne), upserts seeded from the equality parts of the filter.
  * Aggregation stages $match $sort $skip $limit $project $count.
  * A unique index on _id (duplicate key -> HTTP 409, E11000 message).
  * One global lock around each action, so every action is atomic (this gives
    the compare-and-set behaviour real MongoDB gives single-document updates).
  * Test-only fault injection: POST /__standin/fault, POST /__standin/reset.

Not implemented (requests using them get 400 InvalidParameter naming the
unsupported operator or stage): indexes other than _id (no unique secondary
indexes), transactions, $lookup/$group/$unwind and other aggregation stages,
aggregation expressions, text search, geo queries, $regex options other than
i, $elemMatch with a query document (its operator form is supported), $size, $all, $type, $mod, $where, $expr, array update
operators ($push, $pull, $addToSet, ...), positional updates, $rename, $mul,
$currentDate, collation, write concern, sessions, Atlas App Services rules and
other auth methods (email/password headers, JWT bearer tokens).

Usage
  python3 tests/data_api/standin.py --port PORT --api-key KEY \
      [--user USER --password PASS] [--verbose]
Prints exactly one line on stdout when ready:
  data-api-standin listening on http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import base64
import binascii
import decimal
import functools
import hmac
import json
import math
import os
import re
import signal
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY = 16 * 1024 * 1024
MAX_DRAIN = 256 * 1024 * 1024  # oversized bodies up to this size are read and dropped
MAX_DEPTH = 180
MAX_ARRAY_INDEX = 100_000
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MS_YEAR_10000 = 253402300800000  # 10000-01-01T00:00:00Z in ms

VERBOSE = False


# --------------------------------------------------------------------------
# errors


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def missing(name: str) -> ApiError:
    return ApiError(400, "MissingParameter", f"missing required parameter '{name}'")


# --------------------------------------------------------------------------
# BSON value types (Python int = int32, float = double, str, bool, None,
# dict = document, list = array)


class Int64(int):
    __slots__ = ()

    def __repr__(self):
        return f"Int64({int(self)})"


@dataclass(frozen=True, slots=True)
class ObjectId:
    raw: bytes


@dataclass(frozen=True, slots=True)
class Date:
    ms: int


@dataclass(frozen=True, slots=True)
class Binary:
    data: bytes
    subtype: int


@dataclass(frozen=True, slots=True)
class Decimal128:
    text: str

    def value(self) -> decimal.Decimal:
        return decimal.Decimal(self.text)


@dataclass(frozen=True, slots=True)
class Timestamp:
    t: int
    i: int


class _Singleton:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class _MinKeyType(_Singleton):
    pass


class _MaxKeyType(_Singleton):
    pass


class _MissingType(_Singleton):
    pass


class _UndefinedType(_Singleton):
    pass


MinKey = _MinKeyType("MinKey")
MaxKey = _MaxKeyType("MaxKey")
MISSING = _MissingType("MISSING")  # a path that does not exist
UNDEFINED = _UndefinedType("UNDEFINED")  # sort key of an empty array

# canonical BSON type order brackets
BRACKET = {
    _MinKeyType: 1,
    _UndefinedType: 4,
    type(None): 5,
    _MissingType: 5,
    int: 10,
    Int64: 10,
    float: 10,
    Decimal128: 10,
    str: 15,
    dict: 20,
    list: 25,
    Binary: 30,
    ObjectId: 35,
    bool: 40,
    Date: 45,
    Timestamp: 47,
    _MaxKeyType: 127,
}

TYPE_NAMES = {
    type(None): "null", bool: "bool", int: "int", Int64: "long", float: "double",
    Decimal128: "decimal", str: "string", dict: "object", list: "array",
    Binary: "binData", ObjectId: "objectId", Date: "date", Timestamp: "timestamp",
    _MinKeyType: "minKey", _MaxKeyType: "maxKey", _MissingType: "missing",
}

NUMBER_TYPES = (int, Int64, float, Decimal128)


def is_number(v) -> bool:
    return type(v) in (int, Int64, float, Decimal128)


def type_name(v) -> str:
    return TYPE_NAMES.get(type(v), type(v).__name__)


_OID_RANDOM = os.urandom(5)
_oid_lock = threading.Lock()
_oid_counter = int.from_bytes(os.urandom(3), "big")


def new_object_id() -> ObjectId:
    global _oid_counter
    with _oid_lock:
        _oid_counter = (_oid_counter + 1) & 0xFFFFFF
        counter = _oid_counter
    secs = int(time.time()) & 0xFFFFFFFF
    return ObjectId(struct.pack(">I", secs) + _OID_RANDOM + counter.to_bytes(3, "big"))


def copy_value(v):
    t = type(v)
    if t is dict:
        return {k: copy_value(x) for k, x in v.items()}
    if t is list:
        return [copy_value(x) for x in v]
    return v  # every other value type is immutable


# --------------------------------------------------------------------------
# Extended JSON parsing

WRAPPER_KEYS = {
    "$oid", "$numberInt", "$numberLong", "$numberDouble", "$numberDecimal",
    "$date", "$binary", "$uuid", "$timestamp", "$minKey", "$maxKey",
    "$regularExpression", "$symbol", "$code", "$dbPointer", "$undefined",
}
UNSUPPORTED_WRAPPERS = {"$regularExpression", "$symbol", "$code", "$dbPointer", "$undefined"}

INT_RE = re.compile(r"-?[0-9]+")
DOUBLE_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DECIMAL_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)
HEX24_RE = re.compile(r"[0-9a-fA-F]{24}")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SUBTYPE_RE = re.compile(r"[0-9a-fA-F]{1,2}")
ISO_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)"
)


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


def _parse_float(s):
    f = float(s)
    if not math.isfinite(f):
        raise ValueError(f"number out of range: {s}")
    return f


def parse_json_body(data: bytes):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("request body is not valid UTF-8")
    try:
        raw = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except RecursionError:
        raise bad("request body is nested too deeply")
    except ValueError as e:
        raise bad(f"invalid JSON in request body: {e}")
    return from_ejson(raw, 0)


def _check_str(s: str):
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise bad("string contains an unpaired UTF-16 surrogate")
    return s


def from_ejson(v, depth):
    if depth > MAX_DEPTH:
        raise bad("request body is nested too deeply")
    t = type(v)
    if t is dict:
        for k in v:
            if k in WRAPPER_KEYS:
                return _parse_wrapper(v, k)
        return {_check_str(k): from_ejson(x, depth + 1) for k, x in v.items()}
    if t is list:
        return [from_ejson(x, depth + 1) for x in v]
    if t is bool or v is None or t is float:
        return v
    if t is int:
        if INT32_MIN <= v <= INT32_MAX:
            return v
        if INT64_MIN <= v <= INT64_MAX:
            return Int64(v)
        return float(v)
    if t is str:
        return _check_str(v)
    raise bad(f"unexpected JSON value {v!r}")


def _parse_int_string(s, lo, hi, what):
    if type(s) is not str or not INT_RE.fullmatch(s):
        raise bad(f"invalid {what}: expected an integer string, got {json.dumps(s)}")
    n = int(s)
    if not lo <= n <= hi:
        raise bad(f"invalid {what}: {s} is out of range")
    return n


def _parse_wrapper(d, key):
    if key in UNSUPPORTED_WRAPPERS:
        raise bad(f"Extended JSON type {key} is not supported by this Data API stand-in")
    val = d[key]
    if key == "$binary" and len(d) == 2 and "$type" in d and type(val) is str:
        # legacy form {"$binary": "<base64>", "$type": "<hex>"}
        return _make_binary(val, d["$type"])
    if len(d) != 1:
        raise bad(f"invalid Extended JSON {key}: unexpected extra keys {sorted(k for k in d if k != key)}")
    if key == "$oid":
        if type(val) is not str or not HEX24_RE.fullmatch(val):
            raise bad(f"invalid $oid: expected 24 hex characters, got {json.dumps(val)[:80]}")
        return ObjectId(bytes.fromhex(val))
    if key == "$numberInt":
        return _parse_int_string(val, INT32_MIN, INT32_MAX, "$numberInt")
    if key == "$numberLong":
        return Int64(_parse_int_string(val, INT64_MIN, INT64_MAX, "$numberLong"))
    if key == "$numberDouble":
        if val == "Infinity":
            return math.inf
        if val == "-Infinity":
            return -math.inf
        if val == "NaN":
            return math.nan
        if type(val) is not str or not DOUBLE_RE.fullmatch(val):
            raise bad(f"invalid $numberDouble: {json.dumps(val)[:80]}")
        f = float(val)
        if not math.isfinite(f):
            raise bad(f"invalid $numberDouble: {val} is out of range")
        return f
    if key == "$numberDecimal":
        if type(val) is not str or not DECIMAL_RE.fullmatch(val):
            raise bad(f"invalid $numberDecimal: {json.dumps(val)[:80]}")
        return Decimal128(val)
    if key == "$date":
        return _parse_date(val)
    if key == "$binary":
        if type(val) is not dict or set(val) != {"base64", "subType"}:
            raise bad('invalid $binary: expected {"base64": "...", "subType": "hh"}')
        return _make_binary(val["base64"], val["subType"])
    if key == "$uuid":
        if type(val) is not str or not UUID_RE.fullmatch(val):
            raise bad(f"invalid $uuid: {json.dumps(val)[:80]}")
        return Binary(bytes.fromhex(val.replace("-", "")), 4)
    if key == "$timestamp":
        if type(val) is not dict or set(val) != {"t", "i"}:
            raise bad('invalid $timestamp: expected {"t": <uint32>, "i": <uint32>}')
        t, i = val["t"], val["i"]
        for x in (t, i):
            if type(x) is not int or not 0 <= x <= 0xFFFFFFFF:
                raise bad("invalid $timestamp: t and i must be unsigned 32-bit integers")
        return Timestamp(t, i)
    if key in ("$minKey", "$maxKey"):
        if val != 1 or type(val) is not int:
            raise bad(f"invalid {key}: the value must be 1")
        return MinKey if key == "$minKey" else MaxKey
    raise bad(f"unsupported Extended JSON wrapper {key}")  # pragma: no cover


def _make_binary(b64, subtype):
    if type(b64) is not str:
        raise bad("invalid $binary: base64 must be a string")
    if type(subtype) is not str or not SUBTYPE_RE.fullmatch(subtype):
        raise bad(f"invalid $binary: subType must be 1-2 hex digits, got {json.dumps(subtype)[:40]}")
    try:
        data = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise bad("invalid $binary: bad base64 payload")
    return Binary(data, int(subtype, 16))


def _parse_date(val):
    t = type(val)
    if t is dict:
        if set(val) != {"$numberLong"}:
            raise bad('invalid $date: expected {"$numberLong": "<ms>"}, an ISO-8601 string or a number')
        return Date(_parse_int_string(val["$numberLong"], INT64_MIN, INT64_MAX, "$date.$numberLong"))
    if t is str:
        return Date(_parse_iso(val))
    if t is int:
        if not INT64_MIN <= val <= INT64_MAX:
            raise bad("invalid $date: out of range")
        return Date(val)
    if t is float:
        if not math.isfinite(val) or not INT64_MIN <= val <= INT64_MAX:
            raise bad("invalid $date: out of range")
        return Date(int(val))
    raise bad(f"invalid $date: {json.dumps(val)[:80] if t in (bool, type(None)) else type(val).__name__}")


def _parse_iso(s):
    m = ISO_RE.fullmatch(s)
    if not m:
        raise bad(f"invalid $date: {json.dumps(s)[:80]} is not an ISO-8601 date-time like 2024-01-02T03:04:05.678Z")
    try:
        dt = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=timezone.utc)
    except ValueError as e:
        raise bad(f"invalid $date: {json.dumps(s)[:80]}: {e}")
    frac_ms = int(((m[7] or "") + "000")[:3])
    offset_min = 0
    tz = m[8]
    if tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hh, mm = int(digits[:2]), int(digits[2:] or 0)
        if hh > 23 or mm > 59:
            raise bad(f"invalid $date: bad timezone offset in {json.dumps(s)}")
        offset_min = sign * (hh * 60 + mm)
    return (dt - EPOCH) // timedelta(milliseconds=1) + frac_ms - offset_min * 60000


# --------------------------------------------------------------------------
# Extended JSON output


def _fmt_double(f: float) -> str:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return repr(f)  # shortest round-trip form, "1.0" for integral values


def _fmt_date_iso(ms: int) -> str:
    dt = EPOCH + timedelta(milliseconds=ms)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{ms % 1000:03d}Z"


def to_ejson(v, canonical: bool):
    t = type(v)
    if t is dict:
        return {k: to_ejson(x, canonical) for k, x in v.items()}
    if t is list:
        return [to_ejson(x, canonical) for x in v]
    if t is str or t is bool or v is None:
        return v
    if t is int:
        return {"$numberInt": str(v)} if canonical else v
    if t is Int64:
        return {"$numberLong": str(int(v))} if canonical else int(v)
    if t is float:
        if canonical or not math.isfinite(v):
            return {"$numberDouble": _fmt_double(v)}
        return v
    if t is ObjectId:
        return {"$oid": v.raw.hex()}
    if t is Date:
        if not canonical and 0 <= v.ms < MS_YEAR_10000:
            return {"$date": _fmt_date_iso(v.ms)}
        return {"$date": {"$numberLong": str(v.ms)}}
    if t is Binary:
        return {"$binary": {"base64": base64.b64encode(v.data).decode("ascii"), "subType": f"{v.subtype:02x}"}}
    if t is Decimal128:
        return {"$numberDecimal": v.text}
    if t is Timestamp:
        return {"$timestamp": {"t": v.t, "i": v.i}}
    if v is MinKey:
        return {"$minKey": 1}
    if v is MaxKey:
        return {"$maxKey": 1}
    raise TypeError(f"cannot encode {v!r}")


def render(v) -> str:
    """Shell-like rendering used in error messages (E11000 etc.)."""
    t = type(v)
    if t is str:
        return json.dumps(v, ensure_ascii=False)
    if t is bool:
        return "true" if v else "false"
    if v is None:
        return "null"
    if t is int:
        return str(v)
    if t is Int64:
        return str(int(v))
    if t is float:
        return _fmt_double(v)
    if t is ObjectId:
        return f"ObjectId('{v.raw.hex()}')"
    if t is Date:
        return f"new Date({v.ms})"
    if t is Binary:
        return f"BinData({v.subtype}, {base64.b64encode(v.data).decode('ascii')})"
    if t is Decimal128:
        return f'Decimal128("{v.text}")'
    if t is Timestamp:
        return f"Timestamp({v.t}, {v.i})"
    if t is dict:
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{k}: {render(x)}" for k, x in v.items()) + " }"
    if t is list:
        return "[ " + ", ".join(render(x) for x in v) + " ]" if v else "[]"
    return repr(v)


# --------------------------------------------------------------------------
# BSON comparison


def bracket(v) -> int:
    return BRACKET[type(v)]


def _is_nan(x) -> bool:
    t = type(x)
    if t is float:
        return math.isnan(x)
    if t is Decimal128:
        return x.value().is_nan()
    if t is decimal.Decimal:
        return x.is_nan()
    return False


def _cmp_numbers(a, b) -> int:
    an, bn = _is_nan(a), _is_nan(b)
    if an or bn:
        return 0 if an and bn else (-1 if an else 1)
    x = a.value() if type(a) is Decimal128 else a
    y = b.value() if type(b) is Decimal128 else b
    if isinstance(x, decimal.Decimal) and type(y) is float:
        y = decimal.Decimal(y)
    elif isinstance(y, decimal.Decimal) and type(x) is float:
        x = decimal.Decimal(x)
    return (x > y) - (x < y)


def bson_compare(a, b) -> int:
    ba, bb = BRACKET[type(a)], BRACKET[type(b)]
    if ba != bb:
        return -1 if ba < bb else 1
    if ba == 10:
        return _cmp_numbers(a, b)
    t = type(a)
    if t is str:
        return (a > b) - (a < b)
    if t is dict:
        ia, ib = list(a.items()), list(b.items())
        for (ka, va), (kb, vb) in zip(ia, ib):
            c = BRACKET[type(va)] - BRACKET[type(vb)]
            if c:
                return -1 if c < 0 else 1
            if ka != kb:
                return -1 if ka < kb else 1
            c = bson_compare(va, vb)
            if c:
                return c
        return (len(ia) > len(ib)) - (len(ia) < len(ib))
    if t is list:
        for x, y in zip(a, b):
            c = bson_compare(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if t is Binary:
        ka, kb = (len(a.data), a.subtype, a.data), (len(b.data), b.subtype, b.data)
        return (ka > kb) - (ka < kb)
    if t is ObjectId:
        return (a.raw > b.raw) - (a.raw < b.raw)
    if t is bool:
        return int(a) - int(b)
    if t is Date:
        return (a.ms > b.ms) - (a.ms < b.ms)
    if t is Timestamp:
        ka, kb = (a.t, a.i), (b.t, b.i)
        return (ka > kb) - (ka < kb)
    return 0  # null, missing, minKey, maxKey, undefined


def bson_eq(a, b) -> bool:
    return BRACKET[type(a)] == BRACKET[type(b)] and bson_compare(a, b) == 0


def strict_eq(a, b) -> bool:
    """Byte-for-byte BSON equality (types, field order, -0.0 vs 0.0)."""
    t = type(a)
    if t is not type(b):
        return False
    if t is dict:
        if len(a) != len(b):
            return False
        for (ka, va), (kb, vb) in zip(a.items(), b.items()):
            if ka != kb or not strict_eq(va, vb):
                return False
        return True
    if t is list:
        return len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b))
    if t is float:
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return a == b


def id_key(v):
    """Hashable key for the unique _id index (BSON equality: 1 == 1.0 == 1L)."""
    t = type(v)
    if t is bool:
        return ("bool", v)
    if t in (int, Int64):
        return ("num", int(v))
    if t is float:
        if math.isnan(v):
            return ("num", "nan")
        return ("num", int(v) if v.is_integer() else v)
    if t is Decimal128:
        d = v.value()
        if d.is_nan():
            return ("num", "nan")
        if d.is_finite() and d == d.to_integral_value():
            return ("num", int(d))
        return ("num", float(d) if d.is_infinite() else d)
    if t is dict:
        return ("obj", tuple((k, id_key(x)) for k, x in v.items()))
    if t is list:
        return ("arr", tuple(id_key(x) for x in v))
    if v is None:
        return ("null",)
    return (type_name(v), v)


# --------------------------------------------------------------------------
# query language


def split_path(path: str, what="field path"):
    if path == "":
        raise bad(f"empty {what}")
    parts = path.split(".")
    if any(p == "" for p in parts):
        raise bad(f"invalid {what} '{path}': empty path component")
    return parts


def array_index(p: str):
    if p.isascii() and p.isdigit():
        return int(p)
    return None


def resolve(v, parts, i=0):
    """All values reachable by a dotted path (MongoDB array traversal)."""
    if i == len(parts):
        return [v]
    p = parts[i]
    t = type(v)
    if t is dict:
        if p in v:
            return resolve(v[p], parts, i + 1)
        return [MISSING]
    if t is list:
        out = []
        idx = array_index(p)
        if idx is not None and idx < len(v):
            out.extend(resolve(v[idx], parts, i + 1))
        for e in v:
            if type(e) is dict:
                out.extend(resolve(e, parts, i))
        return out or [MISSING]
    return [MISSING]


def eq_match(cands, val) -> bool:
    for c in cands:
        if c is MISSING:
            if val is None:
                return True
            continue
        if bson_eq(c, val):
            return True
        if type(c) is list:
            for e in c:
                if bson_eq(e, val):
                    return True
    return False


CMP_OPS = {
    "$gt": lambda r: r > 0,
    "$gte": lambda r: r >= 0,
    "$lt": lambda r: r < 0,
    "$lte": lambda r: r <= 0,
}


def cmp_match(cands, val, op) -> bool:
    if val is None and op in ("$gte", "$lte"):
        return eq_match(cands, None)
    vb = bracket(val)
    test = CMP_OPS[op]
    vnan = _is_nan(val)
    for c in cands:
        if c is MISSING:
            continue
        opts = [c] + (c if type(c) is list else [])
        for o in opts:
            if BRACKET[type(o)] != vb:
                continue
            if vnan or _is_nan(o):
                if vnan and _is_nan(o) and op in ("$gte", "$lte"):
                    return True
                continue
            if test(bson_compare(o, val)):
                return True
    return False


def _truthy(v) -> bool:
    if type(v) is bool:
        return v
    if is_number(v):
        return _cmp_numbers(v, 0) != 0
    return v is not None


def _is_operator_doc(v) -> bool:
    return type(v) is dict and len(v) > 0 and next(iter(v)).startswith("$")


SUPPORTED_QUERY_OPS = (
    "$eq $ne $gt $gte $lt $lte $in $nin $exists $not $and $or $nor $regex (with $options i) "
    "$elemMatch (of operators)"
)


def regex_match(cands, pattern: str, flags: int) -> bool:
    """$regex: a string value (or a string element of an array) matches `pattern`."""
    rx = re.compile(pattern, flags)
    for c in cands:
        for v in (c if type(c) is list else [c]):
            if type(v) is str and rx.search(v):
                return True
    return False


def compile_ops(ops: dict, field: str):
    conds = []
    options = ops.get("$options", "")
    if "$options" in ops and "$regex" not in ops:
        raise bad(f"$options needs $regex (field '{field}')")
    for op, arg in ops.items():
        if op == "$options":
            if type(arg) is not str or any(ch != "i" for ch in arg):
                raise bad(f"this stand-in supports only the $options flag i (field '{field}')")
        elif op == "$regex":
            if type(arg) is not str:
                raise bad(f"$regex needs a string (field '{field}')")
            try:
                re.compile(arg)
            except re.error as e:
                raise bad(f"bad $regex (field '{field}'): {e}")
            flags = re.IGNORECASE if "i" in options else 0
            conds.append(lambda c, a=arg, f=flags: regex_match(c, a, f))
        elif op == "$eq":
            conds.append(lambda c, a=arg: eq_match(c, a))
        elif op == "$ne":
            conds.append(lambda c, a=arg: not eq_match(c, a))
        elif op in CMP_OPS:
            conds.append(lambda c, a=arg, o=op: cmp_match(c, a, o))
        elif op in ("$in", "$nin"):
            if type(arg) is not list:
                raise bad(f"{op} needs an array (field '{field}')")
            for x in arg:
                if _is_operator_doc(x):
                    raise bad(f"cannot nest $ under {op} (field '{field}')")
            if op == "$in":
                conds.append(lambda c, a=arg: any(eq_match(c, x) for x in a))
            else:
                conds.append(lambda c, a=arg: not any(eq_match(c, x) for x in a))
        elif op == "$exists":
            want = _truthy(arg)
            conds.append(lambda c, w=want: any(x is not MISSING for x in c) == w)
        elif op == "$elemMatch":
            # Only the operator form ({"$elemMatch": {"$eq": v}}): some element of an
            # array value satisfies every operator; a non-array value never matches.
            if not _is_operator_doc(arg):
                raise bad(
                    f"this stand-in supports $elemMatch only with operators (field '{field}')"
                )
            inner = compile_ops(arg, field)
            conds.append(
                lambda c, f=inner: any(
                    type(v) is list and any(f([e]) for e in v) for v in c if v is not MISSING
                )
            )
        elif op == "$not":
            if not _is_operator_doc(arg):
                raise bad(f"$not needs a document of operators (field '{field}')")
            inner = compile_ops(arg, field)
            conds.append(lambda c, f=inner: not f(c))
        else:
            raise bad(
                f"unknown or unsupported query operator {op} (field '{field}'); "
                f"this Data API stand-in supports {SUPPORTED_QUERY_OPS}"
            )
    return lambda c: all(f(c) for f in conds)


def compile_filter(f, depth=0):
    if type(f) is not dict:
        raise bad(f"a filter must be an object, got {type_name(f)}")
    if depth > MAX_DEPTH:
        raise bad("filter nested too deeply")
    preds = []
    for key, val in f.items():
        if key.startswith("$"):
            if key in ("$and", "$or", "$nor"):
                if type(val) is not list or not val:
                    raise bad(f"{key} must be a nonempty array")
                for x in val:
                    if type(x) is not dict:
                        raise bad(f"{key} entries must be objects")
                subs = [compile_filter(x, depth + 1) for x in val]
                if key == "$and":
                    preds.append(lambda d, s=subs: all(p(d) for p in s))
                elif key == "$or":
                    preds.append(lambda d, s=subs: any(p(d) for p in s))
                else:
                    preds.append(lambda d, s=subs: not any(p(d) for p in s))
            elif key == "$comment":
                continue
            else:
                raise bad(
                    f"unknown or unsupported top-level query operator {key}; "
                    f"this Data API stand-in supports {SUPPORTED_QUERY_OPS}"
                )
        else:
            parts = split_path(key)
            if _is_operator_doc(val):
                cond = compile_ops(val, key)
            else:
                cond = lambda c, v=val: eq_match(c, v)
            preds.append(lambda d, p=parts, c=cond: c(resolve(d, p)))
    return lambda d: all(p(d) for p in preds)


# --------------------------------------------------------------------------
# sort and projection


def _sort_dir(v, path):
    if type(v) in (int, Int64, float) and type(v) is not bool and v in (1, -1):
        return int(v)
    if type(v) is dict and "$meta" in v:
        raise bad(f"unsupported sort {{$meta}} for '{path}'")
    raise bad(f"invalid sort direction for '{path}': expected 1 or -1")


def compile_sort(spec):
    if type(spec) is not dict:
        raise bad(f"sort must be an object, got {type_name(spec)}")
    keys = [(split_path(k, "sort path"), _sort_dir(v, k)) for k, v in spec.items()]

    def sort_value(doc, parts, asc):
        vals = []
        for c in resolve(doc, parts):
            if c is MISSING:
                vals.append(None)
            elif type(c) is list:
                if c:
                    vals.extend(c)
                else:
                    vals.append(UNDEFINED)
            else:
                vals.append(c)
        best = vals[0]
        for v in vals[1:]:
            r = bson_compare(v, best)
            if (asc and r < 0) or (not asc and r > 0):
                best = v
        return best

    def apply(docs):
        if not keys:
            return list(docs)
        decorated = [([sort_value(d, p, s > 0) for p, s in keys], d) for d in docs]

        def cmp(x, y):
            for (vx, vy, (_, s)) in zip(x[0], y[0], keys):
                r = bson_compare(vx, vy)
                if r:
                    return r * s
            return 0

        decorated.sort(key=functools.cmp_to_key(cmp))
        return [d for _, d in decorated]

    return apply


def compile_projection(spec, stage=False):
    if type(spec) is not dict:
        raise bad(f"projection must be an object, got {type_name(spec)}")
    flat = []

    def flatten(prefix, d):
        for k, v in d.items():
            path = f"{prefix}.{k}" if prefix else k
            if k.startswith("$"):
                raise bad(f"unsupported projection operator {k}")
            if type(v) is dict:
                if _is_operator_doc(v):
                    raise bad(f"unsupported projection operator {next(iter(v))} for '{path}'")
                if not v:
                    raise bad(f"an empty object is not a valid projection value for '{path}'")
                flatten(path, v)
            elif type(v) in (bool, int, Int64, float, Decimal128):
                flat.append((path, _truthy(v)))
            else:
                raise bad(
                    f"unsupported projection value for '{path}': only 0/1/true/false are supported "
                    f"(no aggregation expressions) by this Data API stand-in"
                )

    flatten("", spec)
    if stage and not flat:
        raise bad("$project requires at least one output field")
    if not flat:
        return lambda d: d
    include_id = True
    fields = []
    for path, inc in flat:
        if path == "_id":
            include_id = inc
        else:
            fields.append((split_path(path, "projection path"), inc))
    modes = {inc for _, inc in fields}
    if len(modes) > 1:
        bad_path = next(".".join(p) for p, inc in fields if not inc)
        raise bad(f"Cannot do exclusion on field {bad_path} in inclusion projection")
    inclusion = modes == {True} or (not fields and include_id)
    tree: dict = {}
    for parts, _ in fields:
        node = tree
        for j, p in enumerate(parts):
            if node.get(p) is True:
                raise bad(f"Path collision at {'.'.join(parts)}")
            if j == len(parts) - 1:
                if p in node:
                    raise bad(f"Path collision at {'.'.join(parts)}")
                node[p] = True
            else:
                node = node.setdefault(p, {})

    def include(d, t):
        out = {}
        for k, v in d.items():
            sub = t.get(k)
            if sub is None:
                continue
            if sub is True:
                out[k] = v
            elif type(v) is dict:
                out[k] = include(v, sub)
            elif type(v) is list:
                out[k] = [include(e, sub) for e in v if type(e) is dict]
        return out

    def exclude(d, t):
        out = {}
        for k, v in d.items():
            sub = t.get(k)
            if sub is True:
                continue
            if sub is None:
                out[k] = v
            elif type(v) is dict:
                out[k] = exclude(v, sub)
            elif type(v) is list:
                out[k] = [exclude(e, sub) if type(e) is dict else e for e in v]
            else:
                out[k] = v
        return out

    if inclusion:
        if include_id:
            tree["_id"] = True
        return lambda d: include(d, tree)
    if not include_id:
        tree["_id"] = True
    return lambda d: exclude(d, tree)


# --------------------------------------------------------------------------
# documents and updates


def check_keys(v, depth=0):
    t = type(v)
    if t is dict:
        for k, x in v.items():
            if "\x00" in k:
                raise bad(f"field names must not contain NUL characters: {json.dumps(k)}")
            check_keys(x, depth + 1)
    elif t is list:
        for x in v:
            check_keys(x, depth + 1)


def check_id(v):
    if type(v) is list:
        raise bad("can't use an array for _id")
    if type(v) is dict:
        for k in v:
            if k.startswith("$"):
                raise bad(f"_id fields may not contain '$'-prefixed fields: {k}")


def validate_document(doc):
    if type(doc) is not dict:
        raise bad(f"a document must be an object, got {type_name(doc)}")
    for k in doc:
        if k.startswith("$"):
            raise bad(f"document field names must not start with '$': '{k}'")
    check_keys(doc)
    if "_id" in doc:
        check_id(doc["_id"])


def with_id_first(doc):
    if "_id" not in doc:
        out = {"_id": new_object_id()}
        out.update(doc)
        return out
    if next(iter(doc)) == "_id":
        return doc
    out = {"_id": doc["_id"]}
    for k, v in doc.items():
        if k != "_id":
            out[k] = v
    return out


UPDATE_OPS = ("$set", "$unset", "$inc", "$setOnInsert", "$min", "$max")


def compile_update(update, allow_replacement: bool):
    if type(update) is list:
        raise bad("aggregation pipeline updates are not supported by this Data API stand-in")
    if type(update) is not dict:
        raise bad(f"update must be an object, got {type_name(update)}")
    keys = list(update)
    ops = [k for k in keys if k.startswith("$")]
    if not keys or not ops:
        if not allow_replacement:
            raise bad("Update document requires atomic operators ($set, $inc, ...); "
                      "replacement documents are only accepted by updateOne")
        validate_document(update)
        return ("replace", update)
    if len(ops) != len(keys):
        plain = next(k for k in keys if not k.startswith("$"))
        raise bad(f"update document mixes update operators and plain fields (e.g. '{plain}')")
    items = []
    for op in keys:
        if op not in UPDATE_OPS:
            raise bad(f"unknown or unsupported update operator {op}; this Data API stand-in supports "
                      + " ".join(UPDATE_OPS))
        arg = update[op]
        if type(arg) is not dict:
            raise bad(f"Modifiers operate on fields but we found type {type_name(arg)} instead. "
                      f"For example: {{{op}: {{<field>: ...}}}}")
        for path, val in arg.items():
            parts = split_path(path, f"{op} path")
            if "\x00" in path:
                raise bad(f"field names must not contain NUL characters: {json.dumps(path)}")
            for p in parts:
                if p.startswith("$"):
                    raise bad(f"unsupported field name '{p}' in {op} path '{path}' "
                              f"(positional updates are not supported)")
            if op == "$inc" and not is_number(val):
                raise bad(f"Cannot increment with non-numeric argument: {{{path}: {render(val)}}}")
            if op != "$unset":
                check_keys(val)
                if path == "_id":
                    check_id(val)
            items.append((path, parts, op, val))
    seen = {it[0] for it in items}
    if len(seen) != len(items):
        dup = next(p for p in seen if sum(1 for it in items if it[0] == p) > 1)
        raise bad(f"Updating the path '{dup}' would create a conflict at '{dup}'")
    for path, parts, _, _ in items:
        for j in range(1, len(parts)):
            prefix = ".".join(parts[:j])
            if prefix in seen:
                raise bad(f"Updating the path '{path}' would create a conflict at '{prefix}'")
    items.sort(key=lambda it: it[1])
    return ("ops", items)


def get_path(doc, parts):
    cur = doc
    for p in parts:
        t = type(cur)
        if t is dict:
            if p not in cur:
                return MISSING
            cur = cur[p]
        elif t is list:
            idx = array_index(p)
            if idx is None or idx >= len(cur):
                return MISSING
            cur = cur[idx]
        else:
            return MISSING
    return cur


def _array_slot(arr, p, path):
    idx = array_index(p)
    if idx is None:
        raise bad(f"Cannot create field '{p}' in element {{{path}: {render(arr)[:200]}}}")
    if idx > MAX_ARRAY_INDEX:
        raise bad(f"array index {idx} too large in path")
    while len(arr) < idx:
        arr.append(None)
    return idx


def set_path(doc, parts, value):
    cur = doc
    for j, p in enumerate(parts[:-1]):
        here = ".".join(parts[:j]) or "<root>"
        t = type(cur)
        if t is dict:
            nxt = cur.get(p, MISSING)
            if nxt is MISSING:
                nxt = {}
                cur[p] = nxt
            elif type(nxt) not in (dict, list):
                raise bad(f"Cannot create field '{parts[j + 1]}' in element {{{p}: {render(nxt)[:200]}}}")
        elif t is list:
            idx = _array_slot(cur, p, here)
            if idx == len(cur):
                cur.append({})
            nxt = cur[idx]
            if nxt is None:
                nxt = {}
                cur[idx] = nxt
            elif type(nxt) not in (dict, list):
                raise bad(f"Cannot create field '{parts[j + 1]}' in element {{{p}: {render(nxt)[:200]}}}")
        else:  # pragma: no cover - guarded above
            raise bad(f"Cannot create field '{p}'")
        cur = nxt
    last = parts[-1]
    if type(cur) is dict:
        cur[last] = value
    else:
        idx = _array_slot(cur, last, ".".join(parts[:-1]))
        if idx == len(cur):
            cur.append(value)
        else:
            cur[idx] = value


def unset_path(doc, parts):
    parent = get_path(doc, parts[:-1]) if len(parts) > 1 else doc
    last = parts[-1]
    if type(parent) is dict:
        parent.pop(last, None)
    elif type(parent) is list:
        idx = array_index(last)
        if idx is not None and idx < len(parent):
            parent[idx] = None


def add_numbers(a, b):
    ta, tb = type(a), type(b)
    if ta is Decimal128 or tb is Decimal128:
        x = a.value() if ta is Decimal128 else decimal.Decimal(a)
        y = b.value() if tb is Decimal128 else decimal.Decimal(b)
        return Decimal128(str(decimal.Context(prec=34).add(x, y)))
    if ta is float or tb is float:
        return float(a) + float(b)
    r = int(a) + int(b)
    if ta is Int64 or tb is Int64:
        if not INT64_MIN <= r <= INT64_MAX:
            raise bad("$inc would overflow a 64-bit integer")
        return Int64(r)
    if INT32_MIN <= r <= INT32_MAX:
        return r
    if INT64_MIN <= r <= INT64_MAX:
        return Int64(r)
    raise bad("$inc would overflow a 64-bit integer")  # pragma: no cover


def apply_ops(doc, items, inserting: bool):
    for path, parts, op, val in items:
        if op == "$setOnInsert" and not inserting:
            continue
        if op in ("$set", "$setOnInsert"):
            set_path(doc, parts, copy_value(val))
        elif op == "$unset":
            unset_path(doc, parts)
        elif op == "$inc":
            cur = get_path(doc, parts)
            if cur is MISSING:
                set_path(doc, parts, val)
            elif not is_number(cur):
                raise bad(f"Cannot apply $inc to a value of non-numeric type. {{_id: {render(doc.get('_id'))}}} "
                          f"has the field '{path}' of non-numeric type {type_name(cur)}")
            else:
                set_path(doc, parts, add_numbers(cur, val))
        elif op in ("$min", "$max"):
            cur = get_path(doc, parts)
            if cur is MISSING:
                set_path(doc, parts, copy_value(val))
            else:
                r = bson_compare(val, cur)
                if (op == "$min" and r < 0) or (op == "$max" and r > 0):
                    set_path(doc, parts, copy_value(val))
    return doc


def upsert_seed(filt, seed):
    """Copy the equality parts of a filter into a new document."""
    for key, val in filt.items():
        if key == "$and":
            for sub in val:
                upsert_seed(sub, seed)
            continue
        if key.startswith("$"):
            continue
        if _is_operator_doc(val):
            if "$eq" not in val:
                continue
            val = val["$eq"]
        parts = split_path(key)
        if parts[0] == "_id" and len(parts) == 1:
            check_id(val)
        if get_path(seed, parts) is not MISSING:
            raise bad(f"cannot infer the upsert document: path '{key}' is given twice in the filter")
        set_path(seed, parts, copy_value(val))


# --------------------------------------------------------------------------
# storage and actions


class Collection:
    __slots__ = ("docs", "ids")

    def __init__(self):
        self.docs: list = []
        self.ids: set = set()


STORE: dict = {}
LOCK = threading.Lock()

DB_BAD_CHARS = set('/\\. "$\x00')


def get_collection(params, create: bool):
    db = params.get("database")
    coll = params.get("collection")
    if type(db) is not str or not db:
        raise missing("database")
    if type(coll) is not str or not coll:
        raise missing("collection")
    if any(c in DB_BAD_CHARS for c in db):
        raise bad(f"invalid database name '{db}'")
    if "$" in coll or "\x00" in coll or coll.startswith("system."):
        raise bad(f"invalid collection name '{coll}'")
    key = (db, coll)
    c = STORE.get(key)
    if c is None:
        c = Collection()
        if create:
            STORE[key] = c
    return db, coll, c


def opt_doc(params, name):
    v = params.get(name)
    if v is None:
        return None
    if type(v) is not dict:
        raise bad(f"'{name}' must be an object, got {type_name(v)}")
    return v


def req_doc(params, name):
    if params.get(name) is None:
        raise missing(name)
    return opt_doc(params, name)


def opt_int(params, name, default, allow_negative=False):
    v = params.get(name)
    if v is None:
        return default
    if type(v) in (int, Int64):
        n = int(v)
    elif type(v) is float and v.is_integer():
        n = int(v)
    else:
        raise bad(f"'{name}' must be an integer, got {type_name(v)}")
    if n < 0 and not allow_negative:
        raise bad(f"'{name}' must not be negative")
    return n


def dup_error(db, coll, id_value):
    return ApiError(
        409, "DuplicateKey",
        f"E11000 duplicate key error collection: {db}.{coll} index: _id_ dup key: {{ _id: {render(id_value)} }}",
    )


def insert_into(c: Collection, db, coll, doc):
    key = id_key(doc["_id"])
    if key in c.ids:
        raise dup_error(db, coll, doc["_id"])
    c.ids.add(key)
    c.docs.append(doc)


def _query(params, c):
    filt = compile_filter(opt_doc(params, "filter") or {})
    proj = opt_doc(params, "projection")
    project = compile_projection(proj) if proj is not None else None
    sort = opt_doc(params, "sort")
    sorter = compile_sort(sort) if sort is not None else None
    return filt, project, sorter


def act_find_one(params):
    _, _, c = get_collection(params, False)
    filt, project, sorter = _query(params, c)
    if sorter:
        docs = sorter([d for d in c.docs if filt(d)])
        doc = docs[0] if docs else None
    else:
        doc = next((d for d in c.docs if filt(d)), None)
    if doc is not None and project:
        doc = project(doc)
    return 200, {"document": doc}


def act_find(params):
    _, _, c = get_collection(params, False)
    filt, project, sorter = _query(params, c)
    skip = opt_int(params, "skip", 0)
    limit = abs(opt_int(params, "limit", 0, allow_negative=True))
    docs = [d for d in c.docs if filt(d)]
    if sorter:
        docs = sorter(docs)
    if skip:
        docs = docs[skip:]
    if limit:
        docs = docs[:limit]
    if project:
        docs = [project(d) for d in docs]
    return 200, {"documents": docs}


def act_insert_one(params):
    db, coll, c = get_collection(params, True)
    doc = req_doc(params, "document")
    validate_document(doc)
    doc = with_id_first(doc)
    insert_into(c, db, coll, doc)
    return 201, {"insertedId": doc["_id"]}


def act_insert_many(params):
    db, coll, c = get_collection(params, True)
    docs = params.get("documents")
    if docs is None:
        raise missing("documents")
    if type(docs) is not list:
        raise bad(f"'documents' must be an array, got {type_name(docs)}")
    if not docs:
        raise bad("'documents' must not be empty")
    ids = []
    for d in docs:
        validate_document(d)  # validate all first: a malformed batch inserts nothing
    for d in docs:
        d = with_id_first(d)
        insert_into(c, db, coll, d)  # ordered: earlier documents stay inserted
        ids.append(d["_id"])
    return 201, {"insertedIds": ids}


def _update(params, many: bool):
    db, coll, c = get_collection(params, True)
    filt_doc = req_doc(params, "filter")
    filt = compile_filter(filt_doc)
    if params.get("update") is None:
        raise missing("update")
    kind, spec = compile_update(params["update"], allow_replacement=not many)
    upsert = params.get("upsert", False)
    if upsert is None:
        upsert = False
    if type(upsert) is not bool:
        raise bad("'upsert' must be a boolean")

    changes = []  # (index, new document)
    matched = 0
    for i, doc in enumerate(c.docs):
        if not filt(doc):
            continue
        matched += 1
        if kind == "ops":
            new = apply_ops(copy_value(doc), spec, inserting=False)
        else:
            if "_id" in spec and not strict_eq(spec["_id"], doc["_id"]):
                raise bad("After applying the update, the (immutable) field '_id' was found to have been altered "
                          f"to _id: {render(spec['_id'])}")
            new = {"_id": doc["_id"]}
            for k, v in spec.items():
                if k != "_id":
                    new[k] = copy_value(v)
        if "_id" not in new or not strict_eq(new["_id"], doc["_id"]):
            raise bad("Performing an update on the path '_id' would modify the immutable field '_id'")
        validate_document(new)
        if not strict_eq(new, doc):
            changes.append((i, new))
        if not many:
            break
    for i, new in changes:
        c.docs[i] = new
    result = {"matchedCount": matched, "modifiedCount": len(changes)}
    if matched == 0 and upsert:
        seed: dict = {}
        upsert_seed(filt_doc, seed)
        if kind == "ops":
            seeded_id = seed.get("_id", MISSING)
            new = apply_ops(seed, spec, inserting=True)
            if seeded_id is not MISSING and not strict_eq(new.get("_id", MISSING), seeded_id):
                raise bad("Performing an update on the path '_id' would modify the immutable field '_id'")
        else:
            new = {}
            if "_id" not in spec and "_id" in seed:
                new["_id"] = seed["_id"]
            for k, v in spec.items():
                new[k] = copy_value(v)
        validate_document(new)
        new = with_id_first(new)
        insert_into(c, db, coll, new)
        result["upsertedId"] = new["_id"]
    return 200, result


def act_update_one(params):
    return _update(params, many=False)


def act_update_many(params):
    return _update(params, many=True)


def _delete(params, many: bool):
    _, _, c = get_collection(params, False)
    filt = compile_filter(req_doc(params, "filter"))
    keep, gone = [], []
    for d in c.docs:
        if (many or not gone) and filt(d):
            gone.append(d)
        else:
            keep.append(d)
    if gone:
        c.docs = keep
        for d in gone:
            c.ids.discard(id_key(d["_id"]))
    return 200, {"deletedCount": len(gone)}


def act_delete_one(params):
    return _delete(params, many=False)


def act_delete_many(params):
    return _delete(params, many=True)


SUPPORTED_STAGES = "$match $sort $skip $limit $project $count"


def _stage_int(v, name, minimum):
    if type(v) in (int, Int64) or (type(v) is float and v.is_integer()):
        n = int(v)
        if n >= minimum:
            return n
    raise bad(f"invalid argument to {name}: expected an integer >= {minimum}")


def act_aggregate(params):
    _, _, c = get_collection(params, False)
    pipeline = params.get("pipeline")
    if pipeline is None:
        raise missing("pipeline")
    if type(pipeline) is not list:
        raise bad(f"'pipeline' must be an array, got {type_name(pipeline)}")
    stages = []
    for st in pipeline:
        if type(st) is not dict or len(st) != 1:
            raise bad("A pipeline stage specification object must contain exactly one field.")
        name, arg = next(iter(st.items()))
        if name == "$match":
            f = compile_filter(arg)
            stages.append(lambda docs, f=f: [d for d in docs if f(d)])
        elif name == "$sort":
            if type(arg) is not dict or not arg:
                raise bad("$sort key specification must be a nonempty object")
            s = compile_sort(arg)
            stages.append(s)
        elif name == "$skip":
            n = _stage_int(arg, "$skip", 0)
            stages.append(lambda docs, n=n: docs[n:])
        elif name == "$limit":
            n = _stage_int(arg, "$limit", 1)
            stages.append(lambda docs, n=n: docs[:n])
        elif name == "$project":
            p = compile_projection(arg, stage=True)
            stages.append(lambda docs, p=p: [p(d) for d in docs])
        elif name == "$count":
            if type(arg) is not str or not arg or arg.startswith("$") or "." in arg or "\x00" in arg:
                raise bad("the $count field must be a non-empty string without '$' prefix or '.'")
            stages.append(lambda docs, a=arg: [{a: len(docs)}] if docs else [])
        else:
            raise bad(f"unsupported pipeline stage {name}; this Data API stand-in supports {SUPPORTED_STAGES}")
    docs = list(c.docs)
    for s in stages:
        docs = s(docs)
    return 200, {"documents": docs}


ACTIONS = {
    "findOne": act_find_one,
    "find": act_find,
    "insertOne": act_insert_one,
    "insertMany": act_insert_many,
    "updateOne": act_update_one,
    "updateMany": act_update_many,
    "deleteOne": act_delete_one,
    "deleteMany": act_delete_many,
    "aggregate": act_aggregate,
}


# --------------------------------------------------------------------------
# fault injection (test-only, not part of the Data API)

FAULT_LOCK = threading.Lock()
FAULT: dict | None = None


def set_fault(spec):
    global FAULT
    if type(spec) is not dict:
        raise bad("fault spec must be an object")
    count = spec.get("count", 1)
    if type(count) not in (int, Int64) or count < 0:
        raise bad("'count' must be a non-negative integer")
    fault = {"remaining": int(count)}
    if spec.get("status") is not None:
        st = spec["status"]
        if type(st) not in (int, Int64) or not 400 <= st <= 599:
            raise bad("'status' must be an integer between 400 and 599")
        fault["status"] = int(st)
    if spec.get("delay_ms") is not None:
        dm = spec["delay_ms"]
        if type(dm) not in (int, Int64, float) or not 0 <= dm <= 600_000:
            raise bad("'delay_ms' must be a number between 0 and 600000")
        fault["delay_ms"] = float(dm)
    if spec.get("garbage") is not None:
        if type(spec["garbage"]) is not bool:
            raise bad("'garbage' must be a boolean")
        fault["garbage"] = spec["garbage"]
    if not any(k in fault for k in ("status", "delay_ms", "garbage")):
        raise bad("fault spec needs one of 'status', 'delay_ms', 'garbage'")
    with FAULT_LOCK:
        FAULT = fault if count > 0 else None


def take_fault():
    global FAULT
    with FAULT_LOCK:
        if FAULT is None:
            return None
        FAULT["remaining"] -= 1
        f = dict(FAULT)
        if FAULT["remaining"] <= 0:
            FAULT = None
        return f


def reset_all():
    global FAULT
    with LOCK:
        STORE.clear()
    with FAULT_LOCK:
        FAULT = None


# --------------------------------------------------------------------------
# HTTP

ACTION_RE = re.compile(r"/action/([A-Za-z]+)/?$")
ADMIN_ROUTES = {"/__standin/fault": "fault", "/__standin/reset": "reset"}
CODE_FOR_STATUS = {
    400: "InvalidParameter", 401: "InvalidSession", 404: "NotFound", 405: "NotFound",
    408: "RequestTimeout", 411: "InvalidParameter", 413: "PayloadTooLarge",
    414: "InvalidParameter", 431: "InvalidParameter", 501: "NotImplemented",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "data-api-standin"
    sys_version = ""
    api_key = ""
    basic_user = None
    basic_password = None

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("data-api-standin: %s - %s\n" % (self.address_string(), fmt % args))

    def send_error(self, code, message=None, explain=None):
        # called by the base class for malformed requests; answer in our JSON shape
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        try:
            self._send(code, {"error": message or phrase, "error_code": CODE_FOR_STATUS.get(code, "InvalidParameter")})
        except Exception:
            pass

    # --- plumbing

    def _send(self, status, obj=None, raw=None, canonical=False):
        body = raw if raw is not None else json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/ejson" if canonical else "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_api_error(self, e: ApiError):
        self._send(e.status, {"error": e.message, "error_code": e.code}, canonical=getattr(self, "_canonical", False))

    def _discard_body(self):
        te = self.headers.get("Transfer-Encoding")
        cl = self.headers.get("Content-Length")
        if te:
            self.close_connection = True
            return
        if cl is None:
            return
        try:
            n = int(cl)
        except ValueError:
            self.close_connection = True
            return
        if 0 <= n <= MAX_BODY:
            self.rfile.read(n)
        else:
            self.close_connection = True

    def _drain(self, n: int):
        n = min(n, MAX_DRAIN)
        while n > 0:
            got = self.rfile.read(min(n, 1 << 20))
            if not got:
                break
            n -= len(got)

    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding")
        if te and te.strip().lower() != "identity":
            if te.strip().lower() != "chunked":
                self.close_connection = True
                raise ApiError(400, "InvalidParameter", f"unsupported Transfer-Encoding {te}")
            return self._read_chunked()
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        try:
            n = int(cl)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "InvalidParameter", "invalid Content-Length")
        if n > MAX_BODY:
            # read and drop the body (up to a sane cap) so that the client, which is
            # still sending, gets to see the 413 answer instead of a connection reset
            self._drain(n)
            self.close_connection = True
            raise ApiError(413, "PayloadTooLarge", f"request body larger than {MAX_BODY} bytes")
        data = self.rfile.read(n)
        if len(data) != n:
            self.close_connection = True
            raise ApiError(400, "InvalidParameter", "request body shorter than Content-Length")
        return data

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
                if size < 0:
                    raise ValueError
            except ValueError:
                self.close_connection = True
                raise ApiError(400, "InvalidParameter", "malformed chunked request body")
            if size == 0:
                while True:  # trailers
                    t = self.rfile.readline(8192)
                    if t in (b"\r\n", b"\n", b""):
                        break
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                self._drain(size)
                self.rfile.readline(1024)
                while total <= MAX_DRAIN:  # drop the remaining chunks
                    line = self.rfile.readline(1024)
                    try:
                        size = int(line.split(b";")[0].strip(), 16)
                    except ValueError:
                        break
                    if size <= 0:
                        break
                    total += size
                    self._drain(size)
                    self.rfile.readline(1024)
                raise ApiError(413, "PayloadTooLarge", f"request body larger than {MAX_BODY} bytes")
            data = self.rfile.read(size)
            if len(data) != size:
                self.close_connection = True
                raise ApiError(400, "InvalidParameter", "truncated chunked request body")
            chunks.append(data)
            self.rfile.readline(1024)

    def _authorized(self) -> bool:
        key = self.headers.get("apiKey")
        if key is not None and hmac.compare_digest(key.encode("utf-8", "surrogateescape"),
                                                   self.api_key.encode("utf-8")):
            return True
        if self.basic_user is not None:
            auth = self.headers.get("Authorization") or ""
            if auth[:6].lower() == "basic ":
                try:
                    user, _, pw = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").partition(":")
                except (binascii.Error, ValueError, UnicodeDecodeError):
                    return False
                ok_user = hmac.compare_digest(user.encode(), self.basic_user.encode())
                ok_pw = hmac.compare_digest(pw.encode(), self.basic_password.encode())
                return ok_user and ok_pw
        return False

    def _check_content_type(self):
        ct = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ct not in ("application/json", "application/ejson"):
            raise bad(f"unsupported Content-Type {json.dumps(ct)}: use application/json or application/ejson")

    # --- dispatch

    def _dispatch(self):
        self._canonical = "application/ejson" in (self.headers.get("Accept") or "").lower()
        try:
            path = urlsplit(self.path).path
            route = None
            if self.command == "POST":
                if path in ADMIN_ROUTES:
                    route = ("admin", ADMIN_ROUTES[path])
                else:
                    m = ACTION_RE.search(path)
                    if m and m.group(1) in ACTIONS:
                        route = ("action", m.group(1))
            if route is None:
                self._discard_body()
                raise ApiError(404, "NotFound", f"no such endpoint: {self.command} {path}")
            if not self._authorized():
                self._discard_body()
                raise ApiError(401, "InvalidSession", "invalid session: error finding user for endpoint")
            body = self._read_body()
            if route[0] == "admin":
                self._admin(route[1], body)
            else:
                self._action(route[1], body)
        except ApiError as e:
            self._send_api_error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the stand-in
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            try:
                self._send(500, {"error": f"internal error in data-api stand-in: {type(e).__name__}: {e}",
                                 "error_code": "InternalServerError"})
            except Exception:
                pass

    def _admin(self, name, body):
        if name == "reset":
            reset_all()
        else:
            self._check_content_type()
            spec = parse_json_body(body)
            set_fault(spec)
        self._send(200, {"ok": True})

    def _action(self, name, body):
        fault = take_fault()
        if fault:
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
            if "status" in fault:
                self._send(fault["status"], {"error": "injected", "error_code": "InternalServerError"},
                           canonical=self._canonical)
                return
        self._check_content_type()
        params = parse_json_body(body)
        if type(params) is not dict:
            raise bad("the request body must be a JSON object")
        with LOCK:
            status, result = ACTIONS[name](params)
        out = to_ejson(result, self._canonical)
        if fault and fault.get("garbage"):
            self._send(200, raw=b"<html><body>injected garbage: this is not JSON", canonical=self._canonical)
            return
        self._send(status, out, canonical=self._canonical)

    do_POST = _dispatch
    do_GET = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_PATCH = _dispatch
    do_OPTIONS = _dispatch
    do_HEAD = _dispatch


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True


def main(argv=None):
    global VERBOSE
    ap = argparse.ArgumentParser(description="Stand-in for the MongoDB Atlas Data API v1 (tests only).")
    ap.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--api-key", required=True, help="value expected in the apiKey header")
    ap.add_argument("--user", help="HTTP Basic auth user (optional)")
    ap.add_argument("--password", help="HTTP Basic auth password (optional)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    ap.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="exit when the process that started it exits (tests that share one stand-in)",
    )
    args = ap.parse_args(argv)
    if (args.user is None) != (args.password is None):
        ap.error("--user and --password must be given together")
    if not 0 <= args.port <= 65535:
        ap.error("--port must be between 0 and 65535")
    VERBOSE = args.verbose
    Handler.api_key = args.api_key
    Handler.basic_user = args.user
    Handler.basic_password = args.password

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.exit_with_parent:
        parent = os.getppid()

        def watch_parent():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch_parent, daemon=True).start()

    server = Server(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    sys.stdout.write(f"data-api-standin listening on http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
