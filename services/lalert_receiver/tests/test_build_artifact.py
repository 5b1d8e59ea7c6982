"""build_artifact.py: same sources, same bytes; no caches inside."""

import hashlib
import importlib.util
import pathlib
import tarfile

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
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
    assert "src/pyproject.toml" in names
    assert "src/src/lalert_receiver/app.py" in names
    assert "src/src/lalert_receiver/data/titles.json" in names
    assert "wheelhouse/dep-1.0-py3-none-any.whl" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
