"""The repository's custom modules (library/) loaded into this Python as Ansible runs them, with module_utils/
importable as ansible.module_utils.*. One loader for the unit tests (tests/conftest.py re-exports it) and
the benchmarks (bench/), so neither reaches into the other's folder."""

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_module(name):
    """library/NAME.py as a module; module_utils/*.py are registered first as ansible.module_utils.*."""
    for path in (ROOT / "module_utils").glob("*.py"):
        alias = "ansible.module_utils." + path.stem
        if alias not in sys.modules:
            spec = importlib.util.spec_from_file_location(alias, path)
            sys.modules[alias] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules[alias])
    spec = importlib.util.spec_from_file_location(name, ROOT / "library" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
