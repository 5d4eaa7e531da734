"""Compile the redactor with mypyc, as an optional accelerator (``make native``).

Redaction walks every JSON value Pilothouse persists or logs: about a tenth of an agent
run's own time. mypyc compiles the same typed Python to a C extension that does that walk
in 45-60% of the time (measured here on a run's journal, spec and stored response).

What is built: ``pilothouse/observability/redaction/_redactor_native*.so``, from a copy of
``redactor.py`` that records the SHA-256 of the source it was made from
(``NATIVE_SOURCE_DIGEST``). ``redactor.py`` uses the compiled class only when that digest
is its own, so a build that an edit has made stale is ignored (the pure Python class runs)
until it is rebuilt; ``PILOTHOUSE_PURE_PYTHON=1`` ignores it too. The built files are not
committed. Without a C compiler the build says so and exits 0: everything still runs, in
pure Python.

Run ``python tools/build_native.py`` (``--clean`` removes the built files).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pilothouse"
SOURCE = PACKAGE / "observability" / "redaction" / "redactor.py"
NAME = "_redactor_native"


def built() -> list[Path]:
    """The compiled files now in the package."""
    return sorted(SOURCE.parent.glob(f"{NAME}*.so"))


def build() -> int:
    """Compile a stamped copy of the redactor in a scratch tree; install the results."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="pilothouse-native-") as scratch:
        tree = Path(scratch) / "pilothouse"
        shutil.copytree(PACKAGE, tree, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        copy = tree / SOURCE.relative_to(PACKAGE).with_name(f"{NAME}.py")
        copy.write_text(
            SOURCE.read_text(encoding="utf-8") + f'\nNATIVE_SOURCE_DIGEST = "{digest}"\n',
            encoding="utf-8",
        )
        module = copy.relative_to(scratch).as_posix()
        result = subprocess.run(
            [sys.executable, "-m", "mypyc", module],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            print(
                "The redactor was not compiled (it runs as pure Python):\n"
                + (result.stdout + result.stderr)[-2000:],
                file=sys.stderr,
            )
            return 0
        for old in built():
            old.unlink()
        for so in copy.parent.glob(f"{NAME}*.so"):
            shutil.copy2(so, SOURCE.parent / so.name)
    print(f"Compiled the redactor: {', '.join(p.name for p in built())}")
    return 0


def main() -> None:
    """Build, or remove what was built."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove the compiled files")
    args = parser.parse_args()
    if args.clean:
        for path in built():
            path.unlink()
        return
    raise SystemExit(build())


if __name__ == "__main__":
    main()
