"""The wheel check of `make test`: the package as a user installs it, with no file of the source tree.

It builds the wheel (`python -m build`) from a copy of the checkout's package sources, installs it into a fresh
virtual environment outside the checkout, and from a folder outside the checkout runs `auxlearn --version`,
`auxlearn tasks` and a 5-step `auxlearn train`. It also checks that every file of the package that is not Python
(the built-in atlas, any other package data) is in the wheel: a file left out of ``package-data`` works in the
checkout and fails only for users.

The fresh environment gets the wheel alone (``--no-deps``); its dependencies come from the checkout's own
environment through a ``.pth`` file, which adds that site-packages folder to ``sys.path`` without running its
``.pth`` files, so the checkout's editable install is not seen. Reinstalling torch and the rest would test pip's
resolver and cost minutes, not test the wheel. Exit status 0 when all holds, 1 with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "auxlearn"
TRAIN = """name: wheel-check
primary: rte
data: {max_train_examples: 64, dev_size: 32, max_length: 64}
train: {steps: 5, batch_size: 8, eval_every: 5, progress: false}
"""


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="auxlearn-wheel-") as tmp:
        tmp = Path(tmp)
        wheel = build_wheel(tmp)
        missing = missing_package_data(wheel)
        if missing:
            return fail(f"{wheel.name} lacks package data: {', '.join(missing)} (add them to "
                        "[tool.setuptools.package-data] in pyproject.toml)")
        python = install(wheel, tmp / "venv")
        work = tmp / "work"
        work.mkdir()
        (work / "rte.yaml").write_text(TRAIN, encoding="utf-8")
        where = run(python, "-c", "import auxlearn; print(auxlearn.__file__)", cwd=work).strip()
        if not Path(where).is_relative_to(tmp / "venv"):
            return fail(f"the fresh environment imports auxlearn from {where}, not from the wheel")
        version = run(tmp / "venv" / "bin" / "auxlearn", "--version", cwd=work)
        tasks = run(tmp / "venv" / "bin" / "auxlearn", "tasks", cwd=work)
        if "rte" not in tasks or "mnli" not in tasks:
            return fail(f"`auxlearn tasks` from the wheel does not list the built-in tasks:\n{tasks}")
        run(tmp / "venv" / "bin" / "auxlearn", "train", "rte.yaml", "--out", "out", cwd=work)
        if not (work / "out" / "results.json").is_file() or not (work / "out" / "model" / "README.md").is_file():
            return fail("`auxlearn train` from the wheel wrote no results.json or no model card")
        print(f"wheel check: {wheel.name} installs and runs outside the checkout ({version.strip()}; "
              f"`auxlearn tasks`, a 5-step `auxlearn train`)")
    return 0


def build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the package's sources (the build's own folders never land in the checkout)."""
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run(sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(source), cwd=tmp)
    (wheel,) = (tmp / "dist").glob("auxlearn-*.whl")
    return wheel


def missing_package_data(wheel: Path) -> list[str]:
    """The package's tracked files that are not Python and not in the wheel."""
    tracked = run("git", "ls-files", "src/auxlearn", cwd=REPO).split()
    data = [Path(f).relative_to("src").as_posix() for f in tracked if not f.endswith(".py")]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    return [f for f in data if f not in names]


def install(wheel: Path, venv: Path) -> Path:
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=venv.parent)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv).strip())
    (site / "checkout_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
        str(wheel), cwd=venv.parent)
    return python


def run(*command: str | os.PathLike, cwd: Path) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(fail(f"`{' '.join(map(str, command))}` failed ({done.returncode}):\n{done.stdout}{done.stderr}"))
    return done.stdout


def fail(reason: str) -> int:
    print(f"wheel check FAILED: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
