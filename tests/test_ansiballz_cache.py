"""The test images' cache of compiled AnsiballZ payload code (molecule/shared/images/anshin_ansiballz_cache.py):
code is taken from the cache only for the same bytecode version, optimisation level, module name and source;
it names the payload of the run that uses it; entries root does not own, others may write, or that are
corrupt are compiled again; another user reads root's entries and writes none; other zips are left to
zipimport; a real Ansible module runs through it, and its second run takes every module from the cache."""

import json
import marshal
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

import pytest

from conftest import ROOT, ansible_here

IMAGES = ROOT / "molecule" / "shared" / "images"
MOD = "VALUE = 'from source'\n\ndef fail():\n    raise RuntimeError('boom')\n"
SOURCES = {"pkg/__init__.py": "", "pkg/mod.py": MOD, "pkg/same.py": MOD}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root writes and reads the cache")


def payload(base, name="ansible_stat_payload.zip", sources=SOURCES):
    """A zip laid out as AnsiballZ lays out its payload, in a directory of its own (each run has one)."""
    base.mkdir(parents=True)
    path = base / name
    with zipfile.ZipFile(path, "w") as z:
        for member, text in sources.items():
            z.writestr(member, text)
    return path


def with_hook(cache, images=IMAGES):
    """Python lines that install the hook with its cache in `cache`, as the images' .pth file installs it."""
    return (
        f"import sys\nsys.path.insert(0, {str(images)!r})\nimport anshin_ansiballz_cache as c\n"
        f"c.CACHE_DIR = {str(cache)!r}\nc.install()\n"
    )


def run(zip_path, cache, code, flags=(), python=sys.executable, images=IMAGES, user=None):
    """`code` in a fresh interpreter with the hook installed and the payload first on sys.path."""
    prologue = with_hook(cache, images) + f"sys.path.insert(0, {str(zip_path)!r})\n"
    out = subprocess.run([python, *flags, "-c", prologue + code], capture_output=True, text=True, timeout=60, user=user)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def poison(cache, text="VALUE = 'from cache'\n"):
    """Every entry replaced by other code: what runs next shows whether the cache was read."""
    for entry in cache.iterdir():
        entry.write_bytes(marshal.dumps(compile(text, "poisoned", "exec")))


def test_a_payload_is_compiled_once_then_its_code_comes_from_the_cache(tmp_path):
    cache = tmp_path / "cache"
    first = payload(tmp_path / "run1")
    assert run(first, cache, "import pkg.mod; print(pkg.mod.VALUE)") == "from source"
    assert len(list(cache.iterdir())) == 2  # pkg and pkg.mod
    poison(cache)
    # another run's payload (another temporary path), the same sources: the cached code runs
    second = payload(tmp_path / "run2")
    assert run(second, cache, "import pkg.mod; print(pkg.mod.VALUE)") == "from cache"


def test_another_source_is_never_given_cached_code(tmp_path):
    cache = tmp_path / "cache"
    run(payload(tmp_path / "run1"), cache, "import pkg.mod")
    poison(cache)
    changed = dict(SOURCES, **{"pkg/mod.py": "VALUE = 'changed'\n"})
    assert run(payload(tmp_path / "run2", sources=changed), cache, "import pkg.mod; print(pkg.mod.VALUE)") == "changed"


@pytest.mark.parametrize(
    ("what", "flags", "code"),
    [
        ("another module name, the same source", (), "import pkg.same; print(pkg.same.VALUE)"),
        ("another optimisation level (-O)", ("-O",), "import pkg.mod; print(pkg.mod.VALUE)"),
        (
            "another bytecode version",
            (),
            "import importlib.util; importlib.util.MAGIC_NUMBER = b'XXXX'; import pkg.mod; print(pkg.mod.VALUE)",
        ),
    ],
)
def test_code_cached_for_one_module_and_interpreter_is_not_given_to_another(tmp_path, what, flags, code):
    cache = tmp_path / "cache"
    run(payload(tmp_path / "run1"), cache, "import pkg.mod")
    poison(cache)
    assert run(payload(tmp_path / "run2"), cache, code, flags=flags) == "from source", what


def test_cached_code_names_the_payload_of_the_run_that_uses_it(tmp_path):
    cache = tmp_path / "cache"
    run(payload(tmp_path / "run1"), cache, "import pkg.mod")
    second = payload(tmp_path / "run2")
    shown = run(
        second,
        cache,
        "import json, traceback, pkg.mod\n"
        "try:\n    pkg.mod.fail()\nexcept RuntimeError as e:\n"
        "    frame = traceback.extract_tb(e.__traceback__)[-1]\n"
        "print(json.dumps([pkg.mod.fail.__code__.co_filename, frame.filename, frame.line]))",
    )
    filename, frame_file, line = json.loads(shown)
    assert filename == frame_file == f"{second}/pkg/mod.py"
    assert line == "raise RuntimeError('boom')"  # the source line is found through the payload's loader


@pytest.mark.parametrize("spoil", ["group-writable", "not root's", "corrupt"])
def test_an_entry_it_cannot_trust_is_compiled_again(tmp_path, spoil):
    cache = tmp_path / "cache"
    run(payload(tmp_path / "run1"), cache, "import pkg.mod")
    poison(cache)
    for entry in cache.iterdir():
        if spoil == "group-writable":
            entry.chmod(0o664)
        elif spoil == "not root's":
            os.chown(entry, 1000, 1000)
        else:
            entry.write_bytes(b"\xe3 not marshal data")
    assert run(payload(tmp_path / "run2"), cache, "import pkg.mod; print(pkg.mod.VALUE)") == "from source"


def test_another_user_reads_roots_entries_and_writes_none():
    """A task as another user (become_user): Debian's python3, as the containers have; a directory that user
    can reach and write, so only the hook's own rule keeps it from writing."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="ansiballz-cache-"))
    try:
        base.chmod(0o755)
        shutil.copy(IMAGES / "anshin_ansiballz_cache.py", base)
        as_nobody = {"python": "/usr/bin/python3", "images": base, "user": "nobody"}
        zip_path = payload(base / "run1")
        (base / "run1").chmod(0o755)
        roots, open_to_all = base / "roots", base / "open"
        run(zip_path, roots, "import pkg.mod", python="/usr/bin/python3", images=base)
        roots.chmod(0o755)
        poison(roots)
        assert run(zip_path, roots, "import pkg.mod; print(pkg.mod.VALUE)", **as_nobody) == "from cache"
        open_to_all.mkdir(mode=0o777)
        open_to_all.chmod(0o777)
        assert run(zip_path, open_to_all, "import pkg.mod; print(pkg.mod.VALUE)", **as_nobody) == "from source"
        assert list(open_to_all.iterdir()) == []
    finally:
        shutil.rmtree(base)


def test_other_zips_are_left_to_zipimport(tmp_path):
    cache = tmp_path / "cache"
    other = payload(tmp_path / "run1", name="library.zip")
    assert run(other, cache, "import pkg.mod; print(pkg.mod.VALUE)") == "from source"
    assert not cache.exists()


def test_a_real_ansible_module_runs_through_the_cache_and_fills_it(tmp_path):
    """The installed ansible-core's own payload (the stock linear strategy, as molecule runs it; Mitogen
    sends no zip), run twice: the same result, and the second run finds every entry it needs."""
    cache = tmp_path / "cache"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(with_hook(cache))
    env = {"PYTHONPATH": str(site), "ANSIBLE_STRATEGY": "linear"}
    # a file of the test's own, never read (no checksum, no MIME type) and with its access time after its
    # modification time: a read of /etc/hostname by the first run moved its atime once a day (relatime)
    probe = tmp_path / "probe"
    probe.write_text("x")
    os.utime(probe, (probe.stat().st_mtime + 60, probe.stat().st_mtime))
    argv = (
        "ansible",
        "localhost",
        "-m",
        "ansible.builtin.stat",
        "-a",
        f"path={probe} get_checksum=false get_mime=false",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-o",
    )
    first = ansible_here(*argv, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    written = {entry.name: entry.stat().st_ino for entry in cache.iterdir()}
    assert len(written) > 20  # ansible.module_utils and the module itself
    second = ansible_here(*argv, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    # an entry compiled again would be a new file (written whole, then renamed over the old one)
    assert {entry.name: entry.stat().st_ino for entry in cache.iterdir()} == written
    assert first.stdout.split("=>", 1)[1] == second.stdout.split("=>", 1)[1]
