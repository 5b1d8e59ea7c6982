"""build_artifact.py: same sources, same bytes; no caches inside; the sha256 written whole beside the artifact;
a failed build leaves the previous artifact; builds side by side wait for each other."""

import concurrent.futures
import hashlib
import importlib.util
import pathlib
import subprocess
import tarfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("build_artifact", HERE / "build_artifact.py")
build_artifact = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_artifact)


def seeded_cache(tmp_path):
    """A wheel cache that needs no download: the pin set's folder, marked complete."""
    pins = (HERE / "requirements.txt").read_bytes()
    cache = tmp_path / "wheels" / hashlib.sha256(pins).hexdigest()[:16]
    cache.mkdir(parents=True)
    (cache / "dep-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    (cache / ".complete").touch()
    return tmp_path / "wheels"


def test_artifact_is_reproducible_and_complete(tmp_path):
    cache = seeded_cache(tmp_path)
    first = build_artifact.build(tmp_path / "a.tar.gz", cache)
    (HERE / "src" / "lalert_receiver" / "__pycache__").mkdir(exist_ok=True)
    second = build_artifact.build(tmp_path / "b.tar.gz", cache)
    assert first == second
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
    assert "src/pyproject.toml" in names
    assert "src/src/lalert_receiver/app.py" in names
    assert "src/src/lalert_receiver/data/titles.json" in names
    assert "wheelhouse/dep-1.0-py3-none-any.whl" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_sha256_is_written_beside_the_artifact_as_sha256sum_does(tmp_path):
    out = tmp_path / "artifacts" / "lalert-receiver.tar.gz"
    sha = build_artifact.build(out, seeded_cache(tmp_path))
    assert sha == hashlib.sha256(out.read_bytes()).hexdigest()
    checksum = out.parent / "lalert-receiver.tar.gz.sha256"
    assert checksum.read_text() == f"{sha}  lalert-receiver.tar.gz\n"
    assert checksum.stat().st_mode & 0o777 == 0o644 and out.stat().st_mode & 0o777 == 0o644
    done = subprocess.run(["sha256sum", "-c", checksum.name], cwd=out.parent, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "lalert-receiver.tar.gz: OK\n", done.stdout + done.stderr
    # rebuilt from unchanged inputs: the same bytes, so the role's copy changes nothing
    before = out.read_bytes(), checksum.read_bytes()
    assert build_artifact.build(out, tmp_path / "wheels") == sha
    assert (out.read_bytes(), checksum.read_bytes()) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["lalert-receiver.tar.gz", "lalert-receiver.tar.gz.sha256"]


def test_main_prints_the_sha256(tmp_path, capsys):
    out = tmp_path / "x.tar.gz"
    assert build_artifact.main([str(out), "--wheel-cache", str(seeded_cache(tmp_path))]) == 0
    assert capsys.readouterr().out == hashlib.sha256(out.read_bytes()).hexdigest() + "\n"


def test_a_failed_download_leaves_the_previous_artifact_and_no_cache(tmp_path, monkeypatch):
    out = tmp_path / "artifacts" / "lalert-receiver.tar.gz"
    build_artifact.build(out, seeded_cache(tmp_path))
    before = out.read_bytes(), (out.parent / (out.name + ".sha256")).read_bytes()

    def unreachable(argv, **_):
        pathlib.Path(argv[argv.index("-d") + 1], "half.whl").write_bytes(b"half a download")
        raise subprocess.CalledProcessError(1, argv)

    monkeypatch.setattr(build_artifact.subprocess, "run", unreachable)
    empty = tmp_path / "empty-cache"
    with pytest.raises(subprocess.CalledProcessError):
        build_artifact.build(out, empty)
    assert (out.read_bytes(), (out.parent / (out.name + ".sha256")).read_bytes()) == before
    assert list(empty.iterdir()) == []  # the half download is gone: the next build downloads again
    assert sorted(p.name for p in out.parent.iterdir()) == ["lalert-receiver.tar.gz", "lalert-receiver.tar.gz.sha256"]


def test_a_download_is_renamed_into_place_complete(tmp_path, monkeypatch):
    def download(argv, **_):
        pathlib.Path(argv[argv.index("-d") + 1], "dep-2.0-py3-none-any.whl").write_bytes(b"wheel")

    monkeypatch.setattr(build_artifact.subprocess, "run", download)
    wheels = build_artifact.download_wheels(tmp_path / "cache")
    assert [w.name for w in wheels] == ["dep-2.0-py3-none-any.whl"]
    (folder,) = (tmp_path / "cache").iterdir()
    assert (folder / ".complete").exists() and folder == wheels[0].parent
    monkeypatch.setattr(build_artifact.subprocess, "run", lambda *a, **k: pytest.fail("downloaded twice"))
    assert build_artifact.download_wheels(tmp_path / "cache") == wheels


def test_builds_side_by_side_wait_for_each_other(tmp_path):
    """Two molecule scenarios start together and each builds first: same artifact, same cache."""
    out, cache = tmp_path / "artifacts" / "lalert-receiver.tar.gz", seeded_cache(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        shas = set(pool.map(lambda _: build_artifact.build(out, cache), range(8)))
    assert len(shas) == 1
    (sha,) = shas
    assert hashlib.sha256(out.read_bytes()).hexdigest() == sha
    assert (out.parent / "lalert-receiver.tar.gz.sha256").read_text() == f"{sha}  lalert-receiver.tar.gz\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["lalert-receiver.tar.gz", "lalert-receiver.tar.gz.sha256"]
