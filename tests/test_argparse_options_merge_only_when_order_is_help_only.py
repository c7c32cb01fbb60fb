"""Both sides add argparse options at one spot: kept both only when order is only --help order (issue 17).

Megatron-LM-shaped ``arguments.py`` files; libgit2's real 3-way merge makes the conflict, the
ladder resolves it.  One case that applies and one for every refusal condition.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.ladder import SAFE, FileResolution, Ladder
from fspatch.git_adapter import GitRepo

LABELS = ("upstream 3a2a972d9", "upstream 8479eb35f", "patch arguments.py.patch")

BASE = """def _add_training_args(parser):
    group = parser.add_argument_group(title='training')

    group.add_argument('--micro-batch-size', type=int, default=None,
                       help='Batch size per model instance (local batch size).')
    group.add_argument('--global-batch-size', type=int, default=None,
                       help='Training batch size.')
    return parser
"""
SPOT = "                       help='Batch size per model instance (local batch size).')\n"
UP = (
    "    group.add_argument('--save-retain-interval', type=int, default=None,\n"
    "                       help='Number of iterations between retained checkpoints.')\n"
)
PATCH = (
    "    group.add_argument('--rampup-save-interval', type=int, default=None,\n"
    "                       help='Number of iterations between checkpoint saves in the rampup phase.')\n"
)


def resolve(tmp_path: Path, ours_add: str, theirs_add: str, base: str = BASE, spot: str = SPOT) -> FileResolution:
    ours = base.replace(spot, spot + ours_add)
    theirs = base.replace(spot, spot + theirs_add)
    repo = GitRepo.init(tmp_path / "scratch")
    got = repo.merge_texts("megatron/training/arguments.py", base.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None and not got[0], "the case must be a conflict for git"
    fr = Ladder(SAFE).resolve_file(
        "megatron/training/arguments.py", base.encode(), ours.encode(), theirs.encode(), got[1], LABELS
    )
    assert fr is not None
    return fr


def refused(fr: FileResolution, why: str) -> None:
    assert not fr.resolved and fr.regions[0].rule is None
    assert why in fr.regions[0].reason, fr.regions[0].reason


def test_both_options_kept_upstream_first(tmp_path: Path) -> None:
    fr = resolve(tmp_path, UP, PATCH)
    assert fr.resolved and fr.rules == ("structured",)
    assert fr.text == BASE.replace(SPOT, SPOT + UP + PATCH).encode()
    assert "argparse options: upstream 1, patch 1" in fr.regions[0].reason


def test_positional_argument_is_refused(tmp_path: Path) -> None:
    """Positional arguments are consumed in order: their place matters."""
    refused(resolve(tmp_path, UP, "    group.add_argument('data_path', type=str)\n"), "positional argument")


def test_same_option_on_both_sides_is_refused(tmp_path: Path) -> None:
    """argparse raises on a repeated option string."""
    same = PATCH.replace("--rampup-save-interval", "--save-retain-interval").replace("rampup phase", "x")
    refused(resolve(tmp_path, UP, same), "added twice")


def test_option_the_file_already_has_is_refused(tmp_path: Path) -> None:
    """The patch adds an option upstream already defines elsewhere in the file."""
    dup = "    group.add_argument('--global-batch-size', type=int, default=8)\n"
    refused(resolve(tmp_path, UP, dup), "added twice")


def test_shared_destination_is_refused(tmp_path: Path) -> None:
    """Two options writing one dest: the later default wins, so order would decide."""
    dest = "    group.add_argument('--rampup', dest='save_retain_interval', type=int)\n"
    refused(resolve(tmp_path, UP, dest), "destination 'save_retain_interval'")


def test_other_statements_are_refused(tmp_path: Path) -> None:
    """An assignment among the options is ordered code."""
    refused(resolve(tmp_path, UP, "    group = parser.add_argument_group(title='rampup')\n"), "not all add_argument")


def test_another_parser_is_refused(tmp_path: Path) -> None:
    """Options added to another parser object than the one next to the spot."""
    other = PATCH.replace("    group.add_argument", "    extra.add_argument")
    refused(resolve(tmp_path, UP, other), "not added to the parser next to them")


def test_computed_option_names_are_refused(tmp_path: Path) -> None:
    """An option string that is not a literal cannot be checked for repeats."""
    computed = "    group.add_argument(PREFIX + '-rampup', type=int)\n"
    refused(resolve(tmp_path, UP, computed), "literal strings")


def test_computed_option_elsewhere_in_the_file_is_refused(tmp_path: Path) -> None:
    """Upstream builds some option names at run time: a repeat of the patch's cannot be ruled out."""
    base = BASE.replace("    return parser\n", "    for name in EXTRA:\n        group.add_argument('--' + name)\n    return parser\n")
    refused(resolve(tmp_path, UP, PATCH, base=base), "repeats unknown")


def test_edit_on_both_sides_is_refused(tmp_path: Path) -> None:
    """Both sides change a line of the region (the patch besides adding an option): refused."""
    base = BASE
    ours = base.replace("Batch size per model instance", "Batch size per GPU") + ""
    theirs = base.replace(SPOT, SPOT.replace("Batch size per model instance", "Micro batch size") + PATCH)
    repo = GitRepo.init(tmp_path / "scratch")
    got = repo.merge_texts("arguments.py", base.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None and not got[0]
    fr = Ladder(SAFE).resolve_file("arguments.py", base.encode(), ours.encode(), theirs.encode(), got[1], LABELS)
    assert fr is not None
    refused(fr, "the patch does not only add lines before or after")


# --------------------------------------------------------------------------- the patch adds options next to an edit

HELP = "                       help='Training batch size.')\n"


def edit_and_add(tmp_path: Path, ours: str, theirs: str, base: str = BASE) -> FileResolution:
    repo = GitRepo.init(tmp_path / "scratch")
    got = repo.merge_texts("arguments.py", base.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None and not got[0], "the case must be a conflict for git"
    fr = Ladder(SAFE).resolve_file("arguments.py", base.encode(), ours.encode(), theirs.encode(), got[1], LABELS)
    assert fr is not None
    return fr


def test_options_after_an_edited_help_text_are_kept_after_it(tmp_path: Path) -> None:
    """Upstream rewords a help text; the patch adds options right after that call: upstream's, then the patch's."""
    new_help = "                       help='Training batch size (all data-parallel ranks).')\n"
    ours = BASE.replace(HELP, new_help)
    theirs = BASE.replace(HELP, HELP + PATCH)
    fr = edit_and_add(tmp_path, ours, theirs)
    assert fr.resolved and fr.rules == ("structured",)
    assert fr.text == BASE.replace(HELP, new_help + PATCH).encode()
    assert "then the patch's 1 argparse option(s) after it" in fr.regions[0].reason


def test_options_before_a_renamed_option_are_kept_before_it(tmp_path: Path) -> None:
    """Upstream renames an option; the patch adds one right before that call."""
    call = "    group.add_argument('--global-batch-size', type=int, default=None,\n" + HELP
    renamed = call.replace("--global-batch-size", "--global-batch")
    ours = BASE.replace(call, renamed)
    theirs = BASE.replace(call, PATCH + call)
    fr = edit_and_add(tmp_path, ours, theirs)
    assert fr.resolved, fr.regions[0].reason
    assert fr.text == BASE.replace(call, PATCH + renamed).encode()


def test_patch_that_also_edits_is_refused(tmp_path: Path) -> None:
    ours = BASE.replace(HELP, HELP.replace("Training", "Global"))
    theirs = BASE.replace(HELP, HELP.replace("Training", "Total") + PATCH)
    refused(edit_and_add(tmp_path, ours, theirs), "does not only add lines before or after")


def test_upstream_removing_the_lines_is_refused(tmp_path: Path) -> None:
    call = "    group.add_argument('--global-batch-size', type=int, default=None,\n" + HELP
    ours = BASE.replace(call, "")
    theirs = BASE.replace(call, call + PATCH)
    refused(edit_and_add(tmp_path, ours, theirs), "upstream removed the lines the patch adds next to")


def test_upstream_lines_not_ending_with_a_call_are_refused(tmp_path: Path) -> None:
    """Upstream turned the call into something else: the options would not land between two calls."""
    call = "    group.add_argument('--global-batch-size', type=int, default=None,\n" + HELP
    ours = BASE.replace(call, "    parser.set_defaults(global_batch_size=None)\n")
    theirs = BASE.replace(call, call + PATCH)
    refused(edit_and_add(tmp_path, ours, theirs), "do not end with an add_argument call on the same parser")


def test_option_upstream_now_has_is_refused(tmp_path: Path) -> None:
    """Upstream's edit introduces the very option the patch adds next to it."""
    ours = BASE.replace(HELP, HELP + "    group.add_argument('--rampup-save-interval', type=int)\n")
    ours = ours.replace("Training batch size.", "Training batch size!")
    theirs = BASE.replace(HELP, HELP + PATCH)
    refused(edit_and_add(tmp_path, ours, theirs), "option '--rampup-save-interval' is added twice")


def test_code_without_add_argument_is_refused_before_parsing(tmp_path: Path) -> None:
    """Lines that are code and name no add_argument: refused with the parse's own reason, no file parsed."""
    from fspatch.core import argparse_options

    argparse_options._parsed.cache_clear()
    fr = resolve(tmp_path, "    rampup = compute_rampup(parser)\n", PATCH)
    refused(fr, "the added lines are not all add_argument calls")
    assert argparse_options._parsed.cache_info().misses == 0  # neither whole file was parsed
    # the same lines, where the file must be parsed to say so (a comment naming add_argument)
    argparse_options._parsed.cache_clear()
    fr = resolve(tmp_path / "2", "    rampup = compute_rampup(parser)  # not add_argument\n", PATCH)
    refused(fr, "the added lines are not all add_argument calls")
    assert argparse_options._parsed.cache_info().misses > 0


def test_an_identifier_that_normalises_to_add_argument_is_parsed(tmp_path: Path) -> None:
    """NFKC makes ``ａdd_argument`` (fullwidth a) the name add_argument: the quick refusal must not apply."""
    from fspatch.core.argparse_options import _not_calls

    lines = ("    group.\uff41dd_argument('--x', type=int)\n".encode(),)
    assert not _not_calls(b"x = 1\n", lines)
    assert _not_calls(b"x = 1\n", (b"    x = compute()\n",))
    assert not _not_calls(b"x = 1\n", (b"    # only a comment\n", b"\n"))
    assert not _not_calls(b"# -*- coding: latin-1 -*-\nx = 1\n", (b"    x = compute()\n",))
