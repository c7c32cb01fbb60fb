"""Recorded resolutions (rerere for patch queues) apply only to the exact same conflict (issue 17).

The key is the file path and the exact base, upstream and patch sides of the region; a near
match is offered, never applied; a stale record is simply not used; the text form is exact
for any bytes and a record whose sides were edited by hand is refused with the file named.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fspatch.core.conflict_regions import parse_diff3, resolved_regions, split_lines
from fspatch.core.ladder import RECORDED, SAFE, Ladder
from fspatch.core.resolutions import ResolutionStore, dumps, loads, record_for
from fspatch.errors import InputError, UsageError
from fspatch.git_adapter import GitRepo

LABELS = ("upstream v1", "upstream v2", "patch 0001-attn.patch")
BASE = b"def attention(q, k, v):\n    scores = q @ k.T\n    return softmax(scores) @ v\n"
OURS = b"def attention(q, k, v, mask=None):\n    scores = q @ k.T / sqrt(d)\n    return softmax(scores) @ v\n"
THEIRS = (
    b"def attention(q, k, v):\n"
    b"    # --- FLAGSCALE MODIFICATION BEG ---\n"
    b"    scores = flag_gems.matmul(q, k.T)\n"
    b"    # --- FLAGSCALE MODIFICATION END ---\n"
    b"    return softmax(scores) @ v\n"
)
PERSON = (
    b"def attention(q, k, v, mask=None):\n"
    b"    # --- FLAGSCALE MODIFICATION BEG ---\n"
    b"    scores = flag_gems.matmul(q, k.T) / sqrt(d)\n"
    b"    # --- FLAGSCALE MODIFICATION END ---\n"
    b"    return softmax(scores) @ v\n"
)
PATH = "megatron/core/transformer/attention.py"


def conflict(tmp_path: Path, base: bytes = BASE, ours: bytes = OURS, theirs: bytes = THEIRS) -> bytes:
    repo = GitRepo.init(tmp_path / "scratch")
    got = repo.merge_texts(PATH, base, ours, theirs, LABELS)
    assert got is not None and not got[0]
    return got[1]


def record(store: ResolutionStore, diff3: bytes, final: bytes, path: str = PATH) -> None:
    merged = parse_diff3(diff3, LABELS)
    assert merged is not None
    for region, lines in zip(merged.regions, resolved_regions(merged, final), strict=True):
        assert lines is not None
        store.save(
            record_for(
                path, region, lines, recorded="2026-12-01T10:00:00Z", author="Jane <j@x.org>", patch="0001", context="t"
            )
        )


def test_recorded_resolution_is_replayed_on_the_same_conflict(tmp_path: Path) -> None:
    """Resolve once, meet the same conflict again: the recorded resolution gives the person's file."""
    diff3 = conflict(tmp_path)
    store = ResolutionStore(tmp_path / "resolutions", "series/megatron/resolutions")
    record(store, diff3, PERSON)
    again = ResolutionStore(tmp_path / "resolutions", "series/megatron/resolutions")
    fr = Ladder(RECORDED, again).resolve_file(PATH, BASE, OURS, THEIRS, diff3, LABELS)
    assert fr is not None and fr.resolved and fr.text == PERSON
    assert fr.regions[0].rule == "recorded"
    assert fr.regions[0].reason == "resolved as recorded on 2026-12-01T10:00:00Z by Jane <j@x.org>"


def test_near_match_is_offered_never_applied(tmp_path: Path) -> None:
    """Same file and patch side, different upstream side: offered by id, not applied."""
    store = ResolutionStore(tmp_path / "resolutions", "r")
    record(store, conflict(tmp_path), PERSON)
    other_ours = OURS.replace(b"/ sqrt(d)", b"* scale")
    diff3 = conflict(tmp_path / "2", ours=other_ours)
    fr = Ladder(SAFE, store).resolve_file(PATH, BASE, other_ours, THEIRS, diff3, LABELS)
    assert fr is not None and not fr.resolved and fr.text == diff3
    assert fr.regions[0].near == (store.all()[0].id,)
    assert "similar" in fr.regions[0].reason


def test_same_sides_in_another_file_is_not_applied(tmp_path: Path) -> None:
    """The key includes the path: the same text in another file is only offered."""
    store = ResolutionStore(tmp_path / "resolutions", "r")
    record(store, conflict(tmp_path), PERSON)
    diff3 = conflict(tmp_path / "2")
    fr = Ladder(RECORDED, store).resolve_file("other/attention.py", BASE, OURS, THEIRS, diff3, LABELS)
    assert fr is not None and not fr.resolved
    assert fr.regions[0].near


def test_stale_resolution_is_not_used(tmp_path: Path) -> None:
    """After the next bump changed upstream's side again, the old record no longer matches: unused."""
    store = ResolutionStore(tmp_path / "resolutions", "r")
    record(store, conflict(tmp_path), PERSON)
    newer = OURS.replace(b"mask=None", b"mask=None, dropout=0.0")
    diff3 = conflict(tmp_path / "2", ours=newer)
    fr = Ladder(RECORDED, store).resolve_file(PATH, BASE, newer, THEIRS, diff3, LABELS)
    assert fr is not None and not fr.resolved and fr.regions[0].rule is None


@pytest.mark.parametrize(
    "text",
    [b"", b"x", b"a\n\n\n", b"\ttabbed = 1 \n", b"caf\xc3\xa9\n", b"\xff\xfe not utf-8\n", b'q = "\\\\" \x0c\n'],
)
def test_text_form_is_exact_for_any_bytes(text: bytes) -> None:
    """Every side survives the YAML text form byte for byte (literal block, quoted or base64)."""
    lines = split_lines(text)
    merged = parse_diff3(b"<<<<<<< o\nz\n||||||| b\n=======\ny\n>>>>>>> t\n", ("b", "o", "t"))
    assert merged is not None
    region = merged.regions[0]
    rec = record_for("p.py", region, lines, recorded="2026-01-01T00:00:00Z", author="A", patch="p", context="c")
    assert loads(dumps(rec), "x.yaml") == rec


def test_hand_edited_sides_are_refused_with_the_file_named(tmp_path: Path) -> None:
    """A record whose key no longer matches its sides is an input error naming the file."""
    store = ResolutionStore(tmp_path / "resolutions", "series/megatron/resolutions")
    record(store, conflict(tmp_path), PERSON)
    f = next((tmp_path / "resolutions").glob("*.yaml"))
    f.write_bytes(f.read_bytes().replace(b"q @ k.T / sqrt(d)", b"q @ k.T / 2"))
    with pytest.raises(InputError) as exc:
        ResolutionStore(tmp_path / "resolutions", "series/megatron/resolutions").all()
    assert f.name in str(exc.value)


def test_reviewed_resolution_text_is_what_is_applied(tmp_path: Path) -> None:
    """Editing only the 'resolution' block in review changes what the replay applies."""
    store = ResolutionStore(tmp_path / "resolutions", "r")
    diff3 = conflict(tmp_path)
    record(store, diff3, PERSON)
    f = next((tmp_path / "resolutions").glob("*.yaml"))
    data = f.read_bytes()
    head, _, tail = data.partition(b"resolution: |2\n")
    f.write_bytes(head + b"resolution: |2\n" + tail.replace(b"/ sqrt(d)", b"/ math.sqrt(d)"))
    fr = Ladder(RECORDED, ResolutionStore(tmp_path / "resolutions", "r")).resolve_file(
        PATH, BASE, OURS, THEIRS, diff3, LABELS
    )
    assert fr is not None and fr.resolved and b"/ math.sqrt(d)" in fr.text


def test_find_and_forget_by_id_prefix(tmp_path: Path) -> None:
    """show/forget take an id prefix; unknown, too short or ambiguous ids are usage errors."""
    store = ResolutionStore(tmp_path / "resolutions", "r")
    record(store, conflict(tmp_path), PERSON)
    rec = store.all()[0]
    assert store.find(rec.id[:6]) == rec
    with pytest.raises(UsageError):
        store.find("ab")
    with pytest.raises(UsageError):
        store.find("0000" if not rec.id.startswith("0000") else "ffff")
    store.forget(rec)
    assert store.all() == [] and not list((tmp_path / "resolutions").glob("*.yaml"))


def test_person_edit_next_to_a_region_is_not_recorded(tmp_path: Path) -> None:
    """If the person also changed the clean lines around a region, its resolution is unknown (None)."""
    diff3 = conflict(tmp_path)
    merged = parse_diff3(diff3, LABELS)
    assert merged is not None
    edited = PERSON.replace(b"    return softmax(scores) @ v\n", b"    return softmax(scores, -1) @ v\n")
    assert resolved_regions(merged, edited) == [None]
    assert resolved_regions(merged, PERSON) == [tuple(split_lines(PERSON)[:4])]
