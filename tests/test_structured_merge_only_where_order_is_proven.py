"""Structured merge keeps both insertions only where syntax proves order does not matter (issue 17).

Every case runs libgit2's real 3-way file merge (what pull-upstream runs) on real-shaped
Python, C++ and CUDA files, then the ladder on the regions git left.  For each unordered
context there is a case that is resolved, and for every refusal condition one that must be
refused -- the region then stays exactly git's conflict.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fspatch.core.conflict_regions import parse_diff3
from fspatch.core.ladder import NONE, SAFE, FileResolution, Ladder
from fspatch.git_adapter import GitRepo

LABELS = ("upstream v0.10", "upstream v0.11", "patch 0004-router.patch")


def resolve(tmp_path: Path, path: str, base: str, ours: str, theirs: str, mode: str = SAFE) -> FileResolution:
    repo = GitRepo.init(tmp_path / "scratch")
    got = repo.merge_texts(path, base.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None
    clean, text = got
    assert not clean, "the case must be a conflict for git"
    fr = Ladder(mode).resolve_file(path, base.encode(), ours.encode(), theirs.encode(), text, LABELS)
    assert fr is not None
    return fr


def refused(fr: FileResolution, why: str) -> None:
    assert not fr.resolved
    assert fr.regions[0].rule is None
    assert why in fr.regions[0].reason, fr.regions[0].reason


PY_BASE = """import math
import os
import sys

from megatron.core import parallel_state


def get_args():
    return _ARGS


class GPTModel(MegatronModule):
    def __init__(self, config):
        super().__init__(config)
        self.config = config

    def forward(self, tokens):
        return self.decoder(tokens)
"""


def test_python_sorted_imports_are_merged_in_sorted_order(tmp_path: Path) -> None:
    """Both sides add an import into a sorted block: both kept, in the block's sorted order."""
    ours = PY_BASE.replace("import os\n", "import os\nimport random\n")
    theirs = PY_BASE.replace("import os\n", "import os\nimport re  # --- FLAGSCALE MODIFICATION ---\n")
    fr = resolve(tmp_path, "megatron/training/arguments.py", PY_BASE, ours, theirs)
    assert fr.resolved and fr.rules == ("structured",)
    assert fr.text.decode().startswith(
        "import math\nimport os\nimport random\nimport re  # --- FLAGSCALE MODIFICATION ---\nimport sys\n"
    )
    assert "sorted order" in fr.regions[0].reason


def test_python_import_sorting_outside_the_conflict_is_refused(tmp_path: Path) -> None:
    """In a sorted block, a patch import whose sorted place is outside the region is left to a person."""
    ours = PY_BASE.replace("import os\n", "import os\nimport random\n")
    theirs = PY_BASE.replace("import os\n", "import os\nimport abc\n")
    refused(resolve(tmp_path, "m.py", PY_BASE, ours, theirs), "sorts outside the conflict")


def test_unsorted_import_block_is_refused(tmp_path: Path) -> None:
    """No order rule upstream (unsorted imports): neither side-first order is proven, so refuse."""
    base = PY_BASE.replace("import math\nimport os\nimport sys\n", "import sys\nimport os\nimport math\n")
    ours = base.replace("import os\n", "import os\nimport torch\n")
    theirs = base.replace("import os\n", "import os\nimport flag_gems\n")
    refused(resolve(tmp_path, "m.py", base, ours, theirs), "not sorted")


def test_python_same_import_on_both_sides_is_refused(tmp_path: Path) -> None:
    """Both sides import the same name (upstream did it its own way): refuse, never duplicate."""
    ours = PY_BASE.replace("import os\n", "import os\nimport random\nimport re\n")
    theirs = PY_BASE.replace("import os\n", "import os\nfrom regex import compile as re\n")
    refused(resolve(tmp_path, "m.py", PY_BASE, ours, theirs), "both sides add 're'")


def test_python_methods_added_to_a_class_body_are_both_kept(tmp_path: Path) -> None:
    """Methods are members of an unordered class body: upstream's method first, then the patch's."""
    ours = PY_BASE.replace(
        "        self.config = config\n\n",
        "        self.config = config\n\n    def extra_repr(self):\n        return 'gpt'\n\n",
    )
    theirs = PY_BASE.replace(
        "        self.config = config\n\n",
        "        self.config = config\n\n"
        "    # --- FLAGSCALE MODIFICATION BEG ---\n"
        "    def flag_route(self, x):\n        return x\n"
        "    # --- FLAGSCALE MODIFICATION END ---\n\n",
    )
    fr = resolve(tmp_path, "megatron/core/models/gpt/gpt_model.py", PY_BASE, ours, theirs)
    assert fr.resolved and fr.rules == ("structured",)
    text = fr.text.decode()
    assert text.index("def extra_repr") < text.index("def flag_route") < text.index("def forward")
    assert "class body" in fr.regions[0].reason


def test_python_method_shadowing_an_existing_one_is_refused(tmp_path: Path) -> None:
    """A patch method named like one the class already has (shadowing) is refused."""
    ours = PY_BASE.replace(
        "        self.config = config\n\n", "        self.config = config\n\n    def extra(self):\n        pass\n\n"
    )
    theirs = PY_BASE.replace(
        "        self.config = config\n\n",
        "        self.config = config\n\n    def forward(self, t):\n        return t\n\n",
    )
    refused(resolve(tmp_path, "m.py", PY_BASE, ours, theirs), "'forward' already defined in this scope")


def test_python_dataclass_fields_are_refused(tmp_path: Path) -> None:
    """Attributes of a @dataclass are its __init__ order: refused."""
    base = (
        "from dataclasses import dataclass\n\n\n@dataclass\nclass Config:\n    hidden: int = 1\n    layers: int = 2\n"
    )
    ours = base.replace("    hidden: int = 1\n", "    hidden: int = 1\n    heads = 8\n")
    theirs = base.replace("    hidden: int = 1\n", "    hidden: int = 1\n    chips = 4\n")
    refused(resolve(tmp_path, "m.py", base, ours, theirs), "attribute order is meaningful")


def test_python_plain_class_attributes_are_both_kept(tmp_path: Path) -> None:
    """Plain attributes of an undecorated class with no ordered base commute."""
    base = "class Registry:\n    name = 'gpt'\n    size = 1\n"
    ours = base.replace("    name = 'gpt'\n", "    name = 'gpt'\n    version = 2\n")
    theirs = base.replace("    name = 'gpt'\n", "    name = 'gpt'\n    vendor = 'mlu'\n")
    fr = resolve(tmp_path, "m.py", base, ours, theirs)
    assert fr.resolved
    assert fr.text == b"class Registry:\n    name = 'gpt'\n    version = 2\n    vendor = 'mlu'\n    size = 1\n"


def test_python_module_functions_are_both_kept(tmp_path: Path) -> None:
    """Module-level function definitions commute: both kept, upstream's first."""
    ours = PY_BASE.replace("def get_args():", "def get_tokenizer():\n    return _TOK\n\n\ndef get_args():")
    theirs = PY_BASE.replace("def get_args():", "def get_device():\n    return 'mlu'\n\n\ndef get_args():")
    fr = resolve(tmp_path, "megatron/training/global_vars.py", PY_BASE, ours, theirs)
    assert fr.resolved
    text = fr.text.decode()
    assert text.index("def get_tokenizer") < text.index("def get_device") < text.index("def get_args")


def test_python_statements_in_a_function_body_are_refused(tmp_path: Path) -> None:
    """Statements in a function body are ordered code: refused."""
    ours = PY_BASE.replace("        self.config = config\n", "        self.config = config\n        self.a = 1\n")
    theirs = PY_BASE.replace("        self.config = config\n", "        self.config = config\n        self.b = 2\n")
    refused(resolve(tmp_path, "m.py", PY_BASE, ours, theirs), "ordered code")


def test_python_dict_literal_with_distinct_keys_is_merged(tmp_path: Path) -> None:
    """A dict literal with distinct literal keys: both pairs kept."""
    base = 'BACKENDS = {\n    "nccl": 1,\n    "gloo": 2,\n}\n'
    ours = base.replace('    "nccl": 1,\n', '    "nccl": 1,\n    "ucc": 3,\n')
    theirs = base.replace('    "nccl": 1,\n', '    "nccl": 1,\n    "cncl": 4,\n')
    fr = resolve(tmp_path, "m.py", base, ours, theirs)
    assert fr.resolved
    assert fr.text == b'BACKENDS = {\n    "nccl": 1,\n    "ucc": 3,\n    "cncl": 4,\n    "gloo": 2,\n}\n'


def test_python_dict_literal_with_the_same_key_is_refused(tmp_path: Path) -> None:
    """Both sides add the same key (spelled differently): later keys override earlier ones, refuse."""
    base = 'BACKENDS = {\n    "nccl": 1,\n    "gloo": 2,\n}\n'
    ours = base.replace('    "nccl": 1,\n', '    "nccl": 1,\n    "ucc": 3,\n')
    theirs = base.replace('    "nccl": 1,\n', '    "nccl": 1,\n' + "    'ucc': 4,\n")
    refused(resolve(tmp_path, "m.py", base, ours, theirs), "both sides add")


def test_either_side_editing_in_the_region_is_refused(tmp_path: Path) -> None:
    """Upstream changed a line as well as inserting: not insert-only, refused."""
    base = "import os\nimport sys\n"
    ours = "import os  # noqa\nimport json\nimport sys\n"
    theirs = "import os\nimport flag_gems\nimport sys\n"
    refused(resolve(tmp_path, "m.py", base, ours, theirs), "upstream also deletes or changes")
    ours2 = "import os\nimport json\nimport sys\n"
    theirs2 = "import os2\nimport flag_gems\nimport sys\n"
    refused(resolve(tmp_path, "m.py", base, ours2, theirs2), "the patch also deletes or changes")


CPP_BASE = """#include <cstdint>
#include <memory>
#include <vector>

namespace llama {

class Context {
 public:
  explicit Context(int n);
  int size() const { return n_; }

 private:
  int n_;
};

}  // namespace llama
"""


def test_cpp_sorted_includes_are_merged_sorted(tmp_path: Path) -> None:
    """C++ #include block kept sorted upstream: both includes kept in sorted order."""
    ours = CPP_BASE.replace("#include <memory>\n", "#include <memory>\n#include <string>\n")
    theirs = CPP_BASE.replace("#include <memory>\n", "#include <memory>\n#include <mutex>\n")
    fr = resolve(tmp_path, "src/llama-context.h", CPP_BASE, ours, theirs)
    assert fr.resolved
    assert fr.text.startswith(
        b"#include <cstdint>\n#include <memory>\n#include <mutex>\n#include <string>\n#include <vector>\n"
    )


def test_cpp_same_include_both_sides_is_refused(tmp_path: Path) -> None:
    """The same header added by both sides (with another one): refused."""
    ours = CPP_BASE.replace("#include <memory>\n", "#include <memory>\n#include <string>\n")
    theirs = CPP_BASE.replace("#include <memory>\n", "#include <memory>\n#include <string>\n#include <mutex>\n")
    fr = resolve(tmp_path, "a.cpp", CPP_BASE, ours, theirs)
    assert not fr.resolved


def test_cpp_member_functions_are_both_kept(tmp_path: Path) -> None:
    """Member functions in a class body commute (complete-class context): both kept."""
    ours = CPP_BASE.replace(
        "  int size() const { return n_; }\n", "  int size() const { return n_; }\n  bool empty() const;\n"
    )
    theirs = CPP_BASE.replace(
        "  int size() const { return n_; }\n", "  int size() const { return n_; }\n  void set_device(int d);\n"
    )
    fr = resolve(tmp_path, "src/llama-context.h", CPP_BASE, ours, theirs)
    assert fr.resolved
    assert b"  bool empty() const;\n  void set_device(int d);\n" in fr.text


def test_cpp_data_members_are_refused(tmp_path: Path) -> None:
    """Data members are the object's layout: refused."""
    ours = CPP_BASE.replace("  int n_;\n", "  int n_;\n  int m_;\n")
    theirs = CPP_BASE.replace("  int n_;\n", "  int n_;\n  void* dev_;\n")
    refused(resolve(tmp_path, "a.h", CPP_BASE, ours, theirs), "layout")


def test_cpp_file_level_functions_are_refused(tmp_path: Path) -> None:
    """A C/C++ function is declared where it is defined: file-level function order is not free."""
    base = "#include <cstdio>\n\nint a() { return 1; }\n\nint main() { return a(); }\n"
    ours = base.replace("\nint main", "\nint b() { return 2; }\n\nint main")
    theirs = base.replace("\nint main", "\nint c() { return 3; }\n\nint main")
    refused(resolve(tmp_path, "main.cpp", base, ours, theirs), "file-level function")


CU_BASE = """#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

struct Launcher {
  __host__ void launch(float* x, int n);
};

__global__ void scale(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= 2.0f;
}
"""


def test_cuda_includes_and_methods_are_merged(tmp_path: Path) -> None:
    """CUDA (.cu) with the CUDA grammar: sorted includes and member functions both kept."""
    ours = CU_BASE.replace("#include <stdlib.h>\n", "#include <stdlib.h>\n#include <time.h>\n")
    theirs = CU_BASE.replace("#include <stdlib.h>\n", "#include <stdlib.h>\n#include <string.h>\n")
    fr = resolve(tmp_path, "csrc/scale.cu", CU_BASE, ours, theirs)
    assert fr.resolved, fr.regions[0].reason
    assert fr.text.startswith(
        b"#include <cuda_runtime.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n"
    )
    ours2 = CU_BASE.replace(
        "  __host__ void launch(float* x, int n);\n", "  __host__ void launch(float* x, int n);\n  void sync();\n"
    )
    theirs2 = CU_BASE.replace(
        "  __host__ void launch(float* x, int n);\n",
        "  __host__ void launch(float* x, int n);\n  void mlu_launch(float* x);\n",
    )
    fr2 = resolve(tmp_path / "2", "csrc/scale.cu", CU_BASE, ours2, theirs2)
    assert fr2.resolved, fr2.regions[0].reason


def test_cuda_kernel_body_statements_are_refused(tmp_path: Path) -> None:
    """Statements inside a __global__ kernel are ordered code: refused."""
    ours = CU_BASE.replace("  if (i < n) x[i] *= 2.0f;\n", "  if (i < n) x[i] *= 2.0f;\n  __syncthreads();\n")
    theirs = CU_BASE.replace("  if (i < n) x[i] *= 2.0f;\n", "  if (i < n) x[i] *= 2.0f;\n  x[0] = 0;\n")
    refused(resolve(tmp_path, "k.cu", CU_BASE, ours, theirs), "ordered code")


def test_file_without_grammar_is_refused(tmp_path: Path) -> None:
    """No grammar (a YAML file): refused, whatever the lines."""
    base = "a: 1\nb: 2\n"
    refused(resolve(tmp_path, "conf.yaml", base, "a: 1\nc: 3\nb: 2\n", "a: 1\nd: 4\nb: 2\n"), "no grammar")


def test_merged_file_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    """A result that no longer parses (where upstream's did) is refused."""
    base = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    ours = base.replace("\n\ndef g", "\n\ndef h():\n    return 3\n\n\ndef g")
    theirs = base.replace("\n\ndef g", "\n\ndef k(:\n    return 4\n\n\ndef g")
    fr = resolve(tmp_path, "m.py", base, ours, theirs)
    assert not fr.resolved


def test_resolve_none_leaves_gits_conflict_byte_for_byte(tmp_path: Path) -> None:
    """--resolve none: the file is exactly git's diff3 output."""
    ours = PY_BASE.replace("import os\n", "import os\nimport random\n")
    theirs = PY_BASE.replace("import os\n", "import os\nimport re\n")
    repo = GitRepo.init(tmp_path / "r")
    got = repo.merge_texts("m.py", PY_BASE.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None
    fr = Ladder(NONE).resolve_file("m.py", PY_BASE.encode(), ours.encode(), theirs.encode(), got[1], LABELS)
    assert fr is not None and not fr.resolved and fr.text == got[1]


@pytest.mark.parametrize("mode", [SAFE])
def test_clean_text_is_untouched_by_resolution(tmp_path: Path, mode: str) -> None:
    """Everything outside the regions is git's merged text, byte for byte."""
    ours = PY_BASE.replace("import os\n", "import os\nimport random\n").replace("return _ARGS", "return _GLOBAL_ARGS")
    theirs = PY_BASE.replace("import os\n", "import os\nimport re\n").replace(
        "self.decoder(tokens)", "self.dec(tokens)"
    )
    fr = resolve(tmp_path, "m.py", PY_BASE, ours, theirs, mode)
    repo = GitRepo.init(tmp_path / "r2")
    got = repo.merge_texts("m.py", PY_BASE.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None
    merged = parse_diff3(got[1], LABELS)
    assert merged is not None and len(merged.regions) == 1
    assert fr.text == merged.render([fr.regions[0].after], LABELS)
    assert b"return _GLOBAL_ARGS" in fr.text and b"self.dec(tokens)" in fr.text
