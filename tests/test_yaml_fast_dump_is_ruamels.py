"""The fast writer of plain data gives ruamel's bytes exactly, or steps aside.

Why it exists: a bot replay's ``pending.yaml`` (base64 of every rewritten patch plus the
outcomes) took ruamel 0.2-0.4 s to write.  ``dump_yaml`` now writes plain data itself and
must not change a single byte of any file: each case below is dumped both ways.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest

from fspatch.core.yamlio import _ascii_block_plain, _fast_dump, _FastScalars, _ruamel_dump, dump_yaml, parse_yaml

TRICKY = [
    "", "a", "123", "-3", "1.5", "1e3", "0x1F", "0o17", "+1", "1_000", ".inf", "~", "null", "Null", "yes", "no",
    "true", "2024-01-01", "12:30:00", "a: b", "x:", ": x", "it's", "'q'", '"dq"', "a'b c", 'Revert "x (#1)"',
    "a\\b", "  sp", "x ", " ", "#c", "a #b", "@x", "`x", "!x", "&x", "*x", "|x", ">x", "?x", "? x", "- x", "-x",
    "x -", "[x]", "{x}", "x, y", "%x", "=", "<<", "ünï €", "x\u00a0y", "\U0001f600", "a\tb", "x\ny", "x\u2028y",
    "\x7f", "\ufeffx", "ADLR/megatron-lm!3156 - Various bugfixes", "megatron/core/x.py:65: recorded: none",
    "@@ -63,7 +63,7 @@ class ShardDistribution(NamedTuple):",
]


def _both(data: Any) -> None:
    fast = _fast_dump(data)
    slow = _ruamel_dump(data)
    if fast is not None:
        assert fast == slow
    assert dump_yaml(data) == slow
    assert parse_yaml(slow, "x") == data or _has_tuple(data)


def _has_tuple(value: Any) -> bool:
    if isinstance(value, tuple):
        return True
    if isinstance(value, dict):
        return any(_has_tuple(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_tuple(v) for v in value)
    return False


@pytest.mark.parametrize("text", TRICKY)
def test_each_tricky_string_as_value_item_and_key(text: str) -> None:
    _both({"k": text, "seq": [text, {"in": text}, [text]], "deep": {"deeper": {"x": text}}})
    _both({text or "empty": 1, "after": [text]})


def test_structures_empty_nested_none_bools_ints() -> None:
    data: dict[str, Any] = {
        "a": None, "b": [], "c": {}, "d": "", "e": True, "f": [{"x": 1, "y": [1, 2]}, "s", [3, [4]], {}, []],
        "g": {"h": {"i": "j"}}, "o": -3, "p": [[]], "q": False, "t": ("tu", "ple"),
    }
    assert _fast_dump(data) is not None  # this shape is the fast writer's job, not a fallback
    _both(data)


def test_none_in_a_sequence_and_floats_fall_back_to_ruamel() -> None:
    assert _fast_dump({"a": [None]}) is None
    assert _fast_dump({"a": 1.5}) is None
    _both({"a": [None], "b": 1.5})


def test_random_strings_and_long_base64_words() -> None:
    rng = random.Random(13)
    alphabet = "ab :#'\"-?!,[]{}%@`|>*&=\\\t0123.eE+xü"
    data: dict[str, Any] = {}
    for i in range(300):
        data[f"r{i}"] = base64.b64encode(rng.randbytes(rng.randrange(0, 40))).decode()
        data[f"t{i}"] = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9)))
    for k, v in data.items():
        _both({k: v, "n": [v, {"k": v}]})
    # a word longer than ruamel's line width goes on a line of its own
    long_word = base64.b64encode(rng.randbytes(60_000)).decode()
    doc = {"layers": [{"label": "common", "series": [{"name": "0001-x.patch", "old_bytes": long_word}]}]}
    assert _fast_dump(doc) is not None
    _both(doc)
    _both({"top": long_word, "seq": [long_word]})


def test_a_pending_like_document() -> None:
    rng = random.Random(5)
    outcomes = [
        {
            "layer": "common", "patch": f"{i:04d}-megatron-core-x{i}.py.patch", "status": "conflict",
            "conflicts": [{
                "path": f"megatron/core/x{i}.py", "kind": "content",
                "regions": [{"old_upstream": [65, 4], "new_upstream": [65, 1], "patch": [65, 4],
                             "hunk": "@@ -63,7 +63,7 @@ class ShardDistribution(NamedTuple):"}],
                "culprits": [{"id": f"{rng.getrandbits(160):040x}", "subject": 'Revert "build: Upgrade deps (#2289)"',
                              "merge": "", "merge_subject": "", "ref": "#2289"}],
            }],
            "notes": ["megatron/core/x.py:65: recorded: none for this exact conflict; structured: it's ordered"],
            "blocked_by": "", "resolved_by": "",
        }
        for i in range(30)
    ]
    doc = {
        "format": 1, "operation": "pull-upstream", "backend": "megatron",
        "old": {"ref": "v1", "commit": f"{rng.getrandbits(160):040x}"}, "drop_upstreamed": False,
        "layers": [{"label": "common", "series": [
            {"name": f"{i:04d}-x.patch", "strip": 1, "sha256": f"{rng.getrandbits(256):064x}", "status": "clean",
             "old_bytes": base64.b64encode(rng.randbytes(rng.randrange(100, 3000))).decode()} for i in range(40)
        ]}],
        "outcomes": outcomes,
    }
    assert _fast_dump(doc) is not None
    _both(doc)


def test_multi_line_texts_double_quoted_as_ruamel_does() -> None:
    region = "<<<<<<< upstream abc\n\ndef f(parser):\n    group = parser.add_argument_group(title='Logits')\n"
    texts = [region, region * 300, "a\tb\r\n", "x\u2028y", "it's\n\"q\"\\", "\x00\x07\x1b\x85\ufeff\udcff\U0001f600\n",
             "é\n" * 10, " lead\ntrail \n", "- item\n# c\n", "word " * 20000]
    for t in texts:
        _both({"resolutions": [{"before": t, "after": t[::-1], "recorded_id": ""}], "k": t})
    assert _fast_dump({"before": region * 300}) is not None


def test_the_quick_plain_test_is_ruamels_analysis_on_random_ascii() -> None:
    """For one line of printable ASCII the quick test gives ruamel's ``allow_block_plain`` exactly
    (and ruamel then always allows single quotes and sees no multi-line text).

    Text like a pending record's reasons and subjects (words, spaces, punctuation, ``#`` and
    ``:`` inside), and every printable character at the ends and in the middle.
    """
    rng = random.Random(7)
    analyse = _FastScalars()._analyse
    words = ["fix", "Hybrid", "(#2282)", "a:b", "x #y", "- z", "it's", '"q"', "[x]", "{y}", "%", "@", "`", "|", "!",
             "&", "*", ">", "<", "?", ",", ":", "#", "...", "---", "=", "\\", "/", "_", "0", "1.5", "-", " ", ""]
    printable = [chr(c) for c in range(0x20, 0x7F)]
    plain = 0
    for n in range(30_000):
        if n % 2:
            text = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 6)))
        else:
            text = "".join(rng.choice(printable) for _ in range(rng.randrange(1, 12)))
        got = _ascii_block_plain(text)
        if not text:
            assert got is None
            continue
        a = analyse(text)
        assert got == a.allow_block_plain, text
        assert a.allow_single_quoted and not a.multiline, text
        plain += bool(got)
    assert plain > 3_000
    assert _ascii_block_plain("x\ny") is None and _ascii_block_plain("ünï") is None and _ascii_block_plain("a\tb") is None


def test_reasons_and_subjects_as_the_quick_test_takes_them() -> None:
    texts = ["insertions into a block are ordered code", "Hybrid Context Parallel Feature (#2282)",
             "the class's attribute order is meaningful (decorated)", "x = a < b, c > d; e/f", "megatron/core/x.py:65",
             "ADLR/megatron-lm!3156 - Various bugfixes", "0042 a: b", "a #b", "trailing ", "ends:"]
    for text in texts:
        _both({"k": text, "seq": [text, {"in": text}]})
