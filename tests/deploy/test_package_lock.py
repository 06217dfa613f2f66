"""The SCF package is rebuilt from a lock per runtime: every vendored file pinned by hash, each one installable on the
runtime it is locked for, and a build that vendors exactly the lock (issue 27, point 10)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import List, Set

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

from deploy import package
from deploy.package import ROOT, Lock, LockEntry, canonical, lock_path, read_lock, runtime_dependencies

RUNTIMES = [pytest.param(v, id=f"py{v}") for v in package.RUNTIMES]
ENTRY = re.compile(r"^[a-z0-9][a-z0-9-]*==\S+ --hash=sha256:[0-9a-f]{64}(  # .*)?$")
# manylinux2014 is glibc 2.17: SCF's images load wheels for glibc 2.17 and older (package.PLATFORM).
MANYLINUX = ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64",
             *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 4, -1))]


def scf_tags(python: str) -> Set[Tag]:
    """The wheel tags SCF's CPython `python` on linux x86_64 installs."""
    version = tuple(int(part) for part in python.split("."))
    return {*cpython_tags(version, platforms=MANYLINUX), *compatible_tags(version, f"cp{version[0]}{version[1]}",
                                                                         platforms=MANYLINUX)}


def locked_file(entry: LockEntry) -> str:
    """The file name the lock's note records for an entry (`<file>; Requires-Python ...` or `<sdist>: ...`)."""
    return re.split(r"[;:]", entry.note, maxsplit=1)[0]


def locked_requires_python(entry: LockEntry) -> str:
    return entry.note.split("Requires-Python ", 1)[1]


# --- fast: the committed locks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("python", RUNTIMES)
def test_every_line_of_the_lock_is_a_comment_or_one_version_pinned_with_its_sha256(python):
    lines = lock_path(python).read_text(encoding="utf-8").splitlines()
    entries = [line for line in lines if line and not line.startswith("#")]
    assert entries and [line for line in entries if not ENTRY.match(line)] == []


@pytest.mark.parametrize("python", RUNTIMES)
def test_the_lock_was_made_from_pyprojects_runtime_dependencies_and_satisfies_them(python):
    lock = package.current_lock(python)  # refused when pyproject.toml's list changed since `make lock`
    pinned = {entry.name: entry.version for entry in lock.entries}
    for requirement in map(Requirement, runtime_dependencies()):
        assert requirement.specifier.contains(pinned[canonical(requirement.name)], prereleases=True), requirement


@pytest.mark.parametrize("python", RUNTIMES)
def test_every_locked_wheel_is_one_the_runtime_installs_and_declares_it_supports(python):
    for entry in read_lock(lock_path(python)).entries:
        name = locked_file(entry)
        if entry.name in package.PURE_PYTHON_SDISTS:  # vendored as the py3-none-any wheel built from it
            assert name == f"{entry.name}-{entry.version}.tar.gz", entry
            continue
        wheel_name, version, _, tags = parse_wheel_filename(name)
        assert (canonical(wheel_name), str(version)) == (entry.name, entry.version), entry
        assert tags & scf_tags(python), f"{name}: no tag Python {python} on {package.PLATFORM} installs"
        requires = locked_requires_python(entry)
        assert requires == "any" or SpecifierSet(requires).contains(python), f"{name}: Requires-Python {requires}"


def test_the_python_39_lock_keeps_versions_that_support_39_where_310_moved_on():
    py39 = {e.name: locked_file(e) for e in read_lock(lock_path("3.9")).entries}
    assert re.search(r"-cp39-cp39-manylinux", py39["pydantic-core"]), py39["pydantic-core"]


def test_both_runtimes_lock_the_same_distributions():
    names = [sorted(e.name for e in read_lock(lock_path(python)).entries) for python in package.RUNTIMES]
    assert names[0] == names[1]


# --- fast: what the build does with a lock ----------------------------------------------------------------------
def write_lock(folder: Path, python: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(python, folder)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_lock_is_refused_with_the_command_that_makes_it(tmp_path):
    with pytest.raises(SystemExit, match=r"requirements-scf-py39\.lock does not exist: run `make lock`"):
        package.current_lock("3.9", tmp_path)


def test_an_entry_without_a_hash_is_refused_naming_the_line_and_the_fix(tmp_path):
    source = lock_path("3.9").read_text(encoding="utf-8")
    path = write_lock(tmp_path, "3.9", re.sub(r"^(six==\S+) --hash=\S+", r"\1", source, flags=re.M))
    with pytest.raises(SystemExit, match=r"'six==1\.17\.0  # .*' is not `name==version --hash=sha256:<64 hex>`: "
                                         r"run `make lock`"):
        read_lock(path)


def test_a_lock_made_from_another_dependency_list_is_refused_until_make_lock(tmp_path):
    write_lock(tmp_path, "3.10", lock_path("3.10").read_text(encoding="utf-8"))
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8").replace(
        '"pydantic>=2.6,<3",', '"pydantic>=2.6,<3",\n    "pyyaml>=6",'), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"pyproject.toml's \[project\] dependencies are now .*pyyaml.*: run `make "
                                         r"lock`"):
        package.current_lock("3.10", tmp_path, pyproject)


def test_a_package_vendoring_other_versions_than_the_lock_is_refused():
    lock = Lock(Path("deploy/requirements-scf-py39.lock"), [], [LockEntry("six", "1.17.0", "0" * 64, ""),
                                                                LockEntry("pydantic-core", "2.46.5", "0" * 64, "")])
    package.check_vendored(lock, {"six": "1.17.0", "pydantic_core": "2.46.5"})  # dist-info spelling is the same
    with pytest.raises(SystemExit, match=r"locked but not vendored \['pydantic-core==2\.46\.5'\], vendored but "
                                         r"not locked \['pydantic-core==2\.50\.5'\]: run `make lock`"):
        package.check_vendored(lock, {"six": "1.17.0", "pydantic_core": "2.50.5"})


def test_changing_the_lock_makes_a_built_package_out_of_date(tmp_path):
    for name in ("pyproject.toml", *package.ENTRY_FILES):
        shutil.copy2(ROOT / name, tmp_path / name)
    for name in package.CODE_DIRS:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    lock = write_lock(tmp_path / "deploy", "3.9", lock_path("3.9").read_text(encoding="utf-8"))
    before = package.source_digest(tmp_path, "3.9")
    lock.write_text(lock.read_text(encoding="utf-8").replace("six==1.17.0", "six==1.16.0"), encoding="utf-8")
    assert package.source_digest(tmp_path, "3.9") != before


# --- slow: build from the lock (pip's cache under .cache/ makes a rebuild take seconds) --------------------------
def vendored_metadata(directory: Path, field: str) -> List[str]:
    """One header of every vendored *.dist-info (METADATA's Requires-Python, WHEEL's Tag lines...)."""
    values = []
    for info in sorted(directory.glob("*.dist-info")):
        source = info / ("WHEEL" if field == "Tag" else "METADATA")
        headers = source.read_text(encoding="utf-8").split("\n\n", 1)[0].splitlines()
        values.append(f"{info.name}: " + ", ".join(h.split(":", 1)[1].strip() for h in headers
                                                   if h.lower().startswith(field.lower() + ":")))
    return values


@pytest.mark.package
@pytest.mark.parametrize("python", RUNTIMES)
def test_the_built_package_vendors_exactly_the_locked_versions(python):
    paths = package.ensure_built(python)
    vendored = {canonical(name): version for name, version in package.installed_versions(paths.directory).items()}
    assert vendored == {e.name: e.version for e in read_lock(lock_path(python)).entries}


@pytest.mark.package
@pytest.mark.parametrize("python", RUNTIMES)
def test_every_file_vendored_for_a_runtime_declares_that_it_supports_it(python):
    paths = package.ensure_built(python)
    for line in vendored_metadata(paths.directory, "Requires-Python"):
        requires = line.split(": ", 1)[1]
        assert not requires or SpecifierSet(requires).contains(python), line
    for line in vendored_metadata(paths.directory, "Tag"):
        tags = {Tag(*text.split("-")) for text in line.split(": ", 1)[1].split(", ")}
        assert tags & scf_tags(python), line


@pytest.mark.package
def test_a_lock_that_lacks_a_dependency_fails_the_build_naming_it(tmp_path):
    source = lock_path("3.10").read_text(encoding="utf-8")
    write_lock(tmp_path / "locks", "3.10", re.sub(r"^six==.*\n", "", source, flags=re.M))
    with pytest.raises(SystemExit, match=r"(?s)pip failed \(install.*six"):
        package.install_dependencies(tmp_path / "target", "3.10", tmp_path / "locks")


@pytest.mark.package
def test_a_file_whose_hash_differs_from_the_lock_is_not_installed(tmp_path):
    source = lock_path("3.10").read_text(encoding="utf-8")
    write_lock(tmp_path / "locks", "3.10", re.sub(r"^(six==\S+ --hash=sha256:)[0-9a-f]{64}", r"\g<1>" + "0" * 64,
                                                  source, flags=re.M))
    with pytest.raises(SystemExit, match=r"(?s)pip failed \(download.*DO NOT MATCH THE HASHES"):
        package.install_dependencies(tmp_path / "target", "3.10", tmp_path / "locks")
    assert not (tmp_path / "target").exists()
