"""Build the SCF code package: handlers/ and lib/ plus the runtime dependencies vendored for SCF's Python.

``python -m deploy.package [--python 3.10|3.9]`` writes ``build/package-py310/`` (what serverless.yml's ``src``
uploads) and ``build/cos-batch-autopilot-py310.zip`` (the same tree, for the console or ``scf deploy`` from COS),
vendoring exactly the files ``deploy/requirements-scf-py310.lock`` pins; ``--lock`` (``make lock``) rewrites the locks.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
CACHE = ROOT / ".cache"
# SCF's Python runtimes are CPython on linux x86_64; manylinux2014 (glibc 2.17) wheels load on every SCF image.
PLATFORM = "manylinux2014_x86_64"
RUNTIMES = ("3.10", "3.9")
DEFAULT_RUNTIME = "3.10"
# Only the code the functions import; events/, emulator/, tests/ and docs stay out of the package.
CODE_DIRS = ("handlers", "lib")
# The operator CLI is for people at a terminal and never runs on SCF: ops/ is not in CODE_DIRS, and lib/cli.py (the
# alias `python -m lib.cli` for `python -m ops`, the one module under lib/ that imports ops) is left out by name, as is
# lib/credentials.py (the one credentials lookup `ops` and `deploy` share: a function gets its role's keys from SCF).
OPERATOR_ONLY = frozenset({"lib/cli.py", "lib/credentials.py"})
# SCF resolves handler `file.function` to file.py at the zip's root (handler format in the CreateFunction API,
# cloud.tencent.com/document/api/583/18586: no '/' allowed), so these entry files sit at the root too.
ENTRY_FILES = ("scf_submit.py", "scf_report.py")
# PyPI has only an sdist for these, and each has a pure-Python fallback, so a py3-none-any wheel of the
# fallback is correct on any runtime. crcmod: qcloud_cos uses it only to check CRC64 on resumable downloads.
PURE_PYTHON_SDISTS = ("crcmod",)
# Never imported at run time, and large (Crypto/SelfTest is about a third of pycryptodome).
PRUNE_DIRS = frozenset({"__pycache__", "tests", "test", "SelfTest", "bin"})  # stale caches; compiled afresh below
PRUNE_SUFFIXES = (".pyc", ".pyo")
# RECORD lists hashes of files we prune; INSTALLER/REQUESTED are pip bookkeeping. METADATA and licences stay.
PRUNE_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
INFO_FILE = "package-info.json"
# One lock per runtime: a dependency may drop Python 3.9 in a release the 3.10 package takes.
LOCK_DIR = ROOT / "deploy"
_LOCK_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)"
                         r"\s+--hash=sha256:(?P<sha256>[0-9a-f]{64})(?:\s+#\s*(?P<note>.*))?$")
_LOCK_SOURCE = "# pyproject.toml [project] dependencies: "
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip


class PackagePaths(NamedTuple):
    """Where one runtime's package is written."""

    tag: str
    directory: Path
    zip: Path


def paths_for(python: str, build: Path = BUILD) -> PackagePaths:
    """build/package-py310 and build/cos-batch-autopilot-py310.zip for python '3.10'."""
    tag = "py" + python.replace(".", "")
    return PackagePaths(tag, build / f"package-{tag}", build / f"cos-batch-autopilot-{tag}.zip")


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> List[str]:
    """The [project] dependencies of pyproject.toml: the one list of what the package vendors."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # 3.9/3.10: the array is simple enough to read without a TOML library
        match = re.search(r"(?ms)^\[project\].*?^dependencies\s*=\s*\[(.*?)\]", text)
        if not match:
            raise SystemExit("pyproject.toml has no [project] dependencies") from None
        return re.findall(r"""["']([^"']+)["']""", match.group(1))
    return list(tomllib.loads(text)["project"]["dependencies"])


class LockEntry(NamedTuple):
    """One pinned distribution: the one file the package vendors for it, by name, version and SHA-256."""

    name: str
    version: str
    sha256: str
    note: str  # the file's name and its Requires-Python, as the lock was made


class Lock(NamedTuple):
    """A runtime's lock file: what pyproject.toml listed when it was made, and every pinned file."""

    path: Path
    dependencies: List[str]
    entries: List[LockEntry]


def canonical(name: str) -> str:
    """PEP 503 form: 'Pydantic_Core' and 'pydantic-core' are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_path(python: str, lock_dir: Path = LOCK_DIR) -> Path:
    """deploy/requirements-scf-py310.lock for python '3.10'."""
    return lock_dir / f"requirements-scf-{paths_for(python).tag}.lock"


def read_lock(path: Path) -> Lock:
    """Parse a lock file; a line that is neither a comment nor `name==version --hash=sha256:...` is refused."""
    if not path.exists():
        raise SystemExit(f"{path} does not exist: run `make lock` to pin the package's dependencies")
    dependencies: Optional[List[str]] = None
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith(_LOCK_SOURCE):
            dependencies = json.loads(line[len(_LOCK_SOURCE):])
        elif line.strip() and not line.startswith("#"):
            match = _LOCK_ENTRY.match(line.strip())
            if match is None:
                raise SystemExit(f"{path}:{number}: {line.strip()!r} is not `name==version --hash=sha256:<64 hex>`: "
                                 "run `make lock` to rewrite the lock")
            entries.append(LockEntry(canonical(match["name"]), match["version"], match["sha256"], match["note"] or ""))
    if dependencies is None:
        raise SystemExit(f"{path} does not say which pyproject.toml dependencies it was made from: run `make lock`")
    return Lock(path, dependencies, entries)


def current_lock(python: str, lock_dir: Path = LOCK_DIR, pyproject: Path = ROOT / "pyproject.toml") -> Lock:
    """The runtime's lock, refused when pyproject.toml's dependency list changed since it was made."""
    lock = read_lock(lock_path(python, lock_dir))
    wanted = runtime_dependencies(pyproject)
    if lock.dependencies != wanted:
        raise SystemExit(f"{lock.path} was made from {lock.dependencies} but pyproject.toml's [project] dependencies "
                         f"are now {wanted}: run `make lock` and commit the new lock")
    return lock


def _requirements(entries: Iterable[LockEntry]) -> str:
    return "".join(f"{e.name}=={e.version} --hash=sha256:{e.sha256}\n" for e in entries)


def source_digest(root: Path = ROOT, python: str = DEFAULT_RUNTIME) -> str:
    """A hash of everything that goes into the package, so a check can reuse an up-to-date build."""
    digest = hashlib.sha256()
    digest.update(f"{python} {PLATFORM} {' '.join(runtime_dependencies(root / 'pyproject.toml'))}".encode())
    lock = lock_path(python, root / "deploy")
    digest.update(lock.read_bytes() if lock.exists() else b"no lock")
    digest.update(Path(__file__).read_bytes())
    for path in sorted(_code_files(root)):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _code_files(root: Path) -> Iterable[Path]:
    yield from (root / name for name in ENTRY_FILES)
    for name in CODE_DIRS:
        yield from (p for p in (root / name).rglob("*.py")
                    if "__pycache__" not in p.parts and p.relative_to(root).as_posix() not in OPERATOR_ONLY)


def _pip(args: Sequence[str], env: Optional[Dict[str, str]] = None) -> None:
    command = [sys.executable, "-m", "pip", *args, "--cache-dir", str(CACHE / "pip"),
               "--disable-pip-version-check", "--quiet"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"pip failed ({' '.join(args[:2])}):\n{result.stdout}\n{result.stderr}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pure_wheel(sdist: Path, wheels: Path = CACHE / "pure-wheels") -> Path:
    """A py3-none-any wheel built from an sdist with the C compiler disabled; cached by the sdist's hash."""
    out = wheels / _sha256(sdist)
    built = sorted(out.glob("*.whl"))
    if not built:
        out.mkdir(parents=True, exist_ok=True)
        # CC=false makes the extension build fail, so setup.py falls back to its pure-Python modules.
        _pip(["wheel", "--no-deps", "--wheel-dir", str(out), str(sdist)], env=dict(os.environ, CC="false", CXX="false"))
        built = sorted(out.glob("*.whl"))
    impure = [w.name for w in built if not w.name.endswith("-py3-none-any.whl")]
    if impure or len(built) != 1:
        shutil.rmtree(out, ignore_errors=True)
        raise SystemExit(f"expected one pure-Python wheel from {sdist.name}, got {impure or [w.name for w in built]}")
    return built[0]


def _target_flags(python: str) -> List[str]:
    return ["--platform", PLATFORM, "--implementation", "cp", "--python-version", python, "--only-binary=:all:"]


def download_locked(lock: Lock, python: str, dest: Path) -> None:
    """Fetch every locked file into dest, each checked against its hash (pip's --require-hashes), as wheels.

    The sdist-only entries (PURE_PYTHON_SDISTS) are fetched as their hashed sdist and built into a pure wheel."""
    dest.mkdir(parents=True, exist_ok=True)
    pure = [e for e in lock.entries if e.name in PURE_PYTHON_SDISTS]
    binary = [e for e in lock.entries if e.name not in PURE_PYTHON_SDISTS]
    with tempfile.TemporaryDirectory() as tmp:
        wheels, sdists = Path(tmp) / "wheels.txt", Path(tmp) / "sdists.txt"
        wheels.write_text(_requirements(binary), encoding="utf-8")
        _pip(["download", "--require-hashes", "--no-deps", "--dest", str(dest), *_target_flags(python),
              "-r", str(wheels)])
        if pure:
            sdists.write_text(_requirements(pure), encoding="utf-8")
            _pip(["download", "--require-hashes", "--no-deps", "--no-binary=:all:", "--dest", tmp, "-r", str(sdists)])
            for sdist in sorted(Path(tmp).glob("*.tar.gz")) + sorted(Path(tmp).glob("*.zip")):
                shutil.copy2(pure_wheel(sdist), dest)


def install_dependencies(target: Path, python: str, lock_dir: Path = LOCK_DIR) -> None:
    """Install pyproject's runtime dependencies into target from the runtime's locked files only, no index.

    pip resolves from nothing but the hashed files: a dependency the lock lacks fails the install, and a locked
    entry nothing needs is refused below, so the package vendors exactly the lock."""
    lock = current_lock(python, lock_dir)
    with tempfile.TemporaryDirectory() as tmp:
        download_locked(lock, python, Path(tmp))
        _pip(["install", "--no-index", "--find-links", tmp, "--target", str(target), *_target_flags(python),
              "--no-compile", *runtime_dependencies()])
    check_vendored(lock, installed_versions(target))


def check_vendored(lock: Lock, vendored: Dict[str, str]) -> None:
    """Refuse a package whose vendored distributions differ from the lock's entries."""
    locked = {e.name: e.version for e in lock.entries}
    got = {canonical(name): version for name, version in vendored.items()}
    if got != locked:
        extra = sorted(f"{n}=={v}" for n, v in locked.items() if got.get(n) != v)
        unlocked = sorted(f"{n}=={v}" for n, v in got.items() if locked.get(n) != v)
        raise SystemExit(f"{lock.path} does not match what the package needs: locked but not vendored {extra}, "
                         f"vendored but not locked {unlocked}: run `make lock`")


def make_lock(python: str) -> str:
    """Resolve pyproject's runtime dependencies for SCF's runtime as the build installs them; the lock's text.

    A small script over `pip download` rather than pip-compile or uv: pip already resolves for another platform and
    Python (the flags the build uses), and the hash of the one file it fetched is the hash the build checks."""
    with tempfile.TemporaryDirectory() as tmp:
        sdists, wheels, files = Path(tmp) / "sdists", Path(tmp) / "wheels", Path(tmp) / "files"
        _pip(["download", "--no-deps", "--no-binary=:all:", "--dest", str(sdists), *PURE_PYTHON_SDISTS])
        pure = {}
        for sdist in sorted(sdists.iterdir()):
            name, _, version = sdist.name[: -len(".tar.gz")].rpartition("-")
            wheels.mkdir(exist_ok=True)
            shutil.copy2(pure_wheel(sdist), wheels)
            pure[canonical(name)] = LockEntry(canonical(name), version, _sha256(sdist),
                                              f"{sdist.name}: sdist only; vendored as the pure-Python wheel "
                                              "deploy/package.py builds from it")
        _pip(["download", "--dest", str(files), *_target_flags(python), "--find-links", str(wheels),
              *runtime_dependencies()])
        entries = []
        for wheel in sorted(files.glob("*.whl")):
            name, version = wheel.name.split("-")[:2]
            if canonical(name) in pure:
                entries.append(pure[canonical(name)])
                continue
            entries.append(LockEntry(canonical(name), version, _sha256(wheel),
                                     f"{wheel.name}; Requires-Python {requires_python(wheel) or 'any'}"))
    header = (f"# The SCF package's dependencies for Python {python} on {PLATFORM}: the one file each that the build\n"
              "# vendors, checked against its SHA-256. Update with `make lock` (python -m deploy.package --lock);\n"
              f"# `make package RUNTIME={python}` installs from this file only.\n"
              f"{_LOCK_SOURCE}{json.dumps(runtime_dependencies())}\n")
    return header + "".join(f"{e.name}=={e.version} --hash=sha256:{e.sha256}  # {e.note}\n"
                            for e in sorted(entries))


def requires_python(wheel: Path) -> str:
    """The Requires-Python of a wheel's METADATA ('' when it declares none)."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        for line in zf.read(name).decode("utf-8").splitlines():
            if not line:
                break  # the headers end at the first blank line
            if line.lower().startswith("requires-python:"):
                return line.split(":", 1)[1].strip()
    return ""


def write_locks(runtimes: Sequence[str] = RUNTIMES, lock_dir: Path = LOCK_DIR) -> List[Path]:
    written = []
    for python in runtimes:
        path = lock_path(python, lock_dir)
        path.write_text(make_lock(python), encoding="utf-8")
        written.append(path)
    return written


def copy_code(target: Path, root: Path = ROOT) -> None:
    for path in _code_files(root):
        dest = target / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


def prune(target: Path) -> None:
    """Drop what never runs on SCF: caches, dependency test suites, console scripts, pip bookkeeping."""
    for path in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in PRUNE_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (path.suffix in PRUNE_SUFFIXES or
                                 (path.parent.name.endswith(".dist-info") and path.name in PRUNE_DIST_INFO)):
            path.unlink()


def compile_bytecode(target: Path, python: str) -> bool:
    """Precompile with the runtime's own interpreter; False (and a warning) when it is not installed.

    SCF's code directory is read-only, so without .pyc files every cold start compiles from source (measured:
    importing the handlers took 1.2-2.1 s instead of 0.7-0.85 s). unchecked-hash, because the zip's fixed
    timestamps would make timestamp-checked .pyc files look stale."""
    interpreter = find_interpreter(python)
    if interpreter is None:
        print(f"WARNING: no Python {python} under pyenv: the package carries no .pyc files, so cold starts on SCF "
              "compile from source", file=sys.stderr)
        return False
    subprocess.run([interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",  # noqa: S603
                    str(target)], check=True, env={**os.environ, "PYENV_VERSION": Path(interpreter).parts[-3]})
    return True


def installed_versions(target: Path) -> Dict[str, str]:
    """{distribution: version} from the vendored *.dist-info directories."""
    out = {}
    for info in sorted(target.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        out[name] = version
    return out


def write_zip(source: Path, zip_path: Path) -> None:
    """Zip source's tree (sorted, fixed timestamps) with paths relative to source, as SCF expects."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), ZIP_DATE)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(zip_path)


def build(python: str = DEFAULT_RUNTIME, build_dir: Path = BUILD) -> PackagePaths:
    """Build the package directory and zip for one runtime; returns where they are."""
    if python not in RUNTIMES:
        raise SystemExit(f"--python must be one of {', '.join(RUNTIMES)} (SCF's Python runtimes we support)")
    paths = paths_for(python, build_dir)
    staging = paths.directory.with_name(paths.directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    install_dependencies(staging, python)
    copy_code(staging)
    prune(staging)
    compile_bytecode(staging, python)
    info = {"python": python, "platform": PLATFORM, "source_digest": source_digest(python=python),
            "dependencies": installed_versions(staging)}
    (staging / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.rmtree(paths.directory, ignore_errors=True)
    staging.replace(paths.directory)
    write_zip(paths.directory, paths.zip)
    return paths


def is_current(paths: PackagePaths, python: str) -> bool:
    """True when the zip exists and was built from the current code and dependency list."""
    if not paths.zip.exists():
        return False
    try:
        with zipfile.ZipFile(paths.zip) as zf:
            info = json.loads(zf.read(INFO_FILE))
    except (KeyError, ValueError, zipfile.BadZipFile):
        return False
    return bool(info.get("source_digest") == source_digest(python=python))


def ensure_built(python: str = DEFAULT_RUNTIME) -> PackagePaths:
    """Reuse an up-to-date package, else build it."""
    paths = paths_for(python)
    return paths if is_current(paths, python) and paths.directory.is_dir() else build(python)


def describe(paths: PackagePaths) -> str:
    with zipfile.ZipFile(paths.zip) as zf:
        entries = zf.infolist()
    unpacked = sum(e.file_size for e in entries)
    return (f"{paths.zip.relative_to(ROOT) if paths.zip.is_relative_to(ROOT) else paths.zip}: "
            f"{paths.zip.stat().st_size / 1e6:.1f} MB zipped, {unpacked / 1e6:.1f} MB unpacked, "
            f"{len(entries)} files")


def find_interpreter(python: str) -> Optional[str]:
    """The newest pyenv CPython for python ('3.10' -> .../versions/3.10.13/bin/python3.10), or None."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False)  # noqa: S603
    versions = [v for v in listed.stdout.split() if re.fullmatch(rf"{re.escape(python)}\.\d+", v)]
    if not versions:
        return None
    best = max(versions, key=lambda v: int(v.rsplit(".", 1)[1]))
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
    candidate = Path(root) / "versions" / best / "bin" / f"python{python}"
    return str(candidate) if candidate.exists() else None


# Run by the target interpreter in isolated mode (-I -S): no site-packages, no PYTHON* variables, no cwd.
# It resolves each handler string as SCF does: `file.function` -> file.py at the code root, then its attribute, and
# says what it proved in the operator's words (the temporary folder it ran in is gone when they read it).
SMOKE = """
import importlib, platform, sys
sys.path.insert(0, sys.argv[1])
for handler in sys.argv[2:]:
    module, _, function = handler.rpartition(".")
    if not callable(getattr(importlib.import_module(module), function, None)):
        raise SystemExit(handler + ": no callable " + function + " in " + module + ".py")
import pydantic_core
from pydantic_core import _pydantic_core as native
print("handlers ok: " + ", ".join(sys.argv[2:]) + " import from the unpacked zip alone on Python "
      + platform.python_version() + " (no site-packages), and pydantic_core " + pydantic_core.__version__
      + "'s compiled core loads (" + native.__file__.rsplit("/", 1)[-1] + ")")
"""


def smoke_import(paths: PackagePaths, python: str, interpreter: Optional[str] = None,
                 handlers: Sequence[str] = ()) -> str:
    """Unpack the zip into an empty folder and resolve the handler strings from it alone with the target Python."""
    import tempfile

    if not handlers:
        from deploy.spec import handler_strings  # serverless.yml's handlers; PyYAML is a dev/deploy dependency

        handlers = list(handler_strings().values())
    interpreter = interpreter or find_interpreter(python)
    if interpreter is None:
        raise SystemExit(f"no Python {python} under pyenv: cannot check the package imports")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(paths.zip) as zf:
            zf.extractall(tmp)
        result = subprocess.run([interpreter, "-I", "-S", "-c", SMOKE, tmp, *handlers],  # noqa: S603
                                capture_output=True, text=True, check=False, cwd=tmp,
                                env={"PATH": os.defpath, "LANG": "C.UTF-8"})
    if result.returncode != 0:
        raise SystemExit(f"the package does not import on Python {python}:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.package", description=__doc__.splitlines()[0])
    parser.add_argument("--python", choices=RUNTIMES,
                        help=f"SCF runtime to build for (serverless.yml `runtime`); default {DEFAULT_RUNTIME}")
    parser.add_argument("--reuse", action="store_true", help="skip the build when the package is up to date")
    parser.add_argument("--smoke", action="store_true",
                        help="then import the handlers from the unpacked zip alone with pyenv's Python")
    parser.add_argument("--lock", action="store_true",
                        help="resolve the dependencies afresh and rewrite the lock of --python (default: every "
                             "runtime's), instead of building")
    args = parser.parse_args(argv)
    if args.lock:
        for path in write_locks([args.python] if args.python else RUNTIMES):
            entries = read_lock(path).entries
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {len(entries)} files pinned "
                  f"({', '.join(f'{e.name}=={e.version}' for e in entries)})")
        return 0
    args.python = args.python or DEFAULT_RUNTIME
    paths = ensure_built(args.python) if args.reuse else build(args.python)
    print(describe(paths))
    if args.smoke:
        interpreter = find_interpreter(args.python)
        if interpreter is None:  # a user's machine without pyenv can still build; CI has pyenv and checks
            print(f"SKIPPED import check: no Python {args.python} under pyenv")
        else:
            print(smoke_import(paths, args.python, interpreter))
    return 0


if __name__ == "__main__":
    sys.exit(main())
