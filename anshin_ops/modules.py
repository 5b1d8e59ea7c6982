"""Python files of the repository that are not a package, loaded by path: the custom modules (library/) as
Ansible runs them, with module_utils/ importable as ansible.module_utils.*, and the rules kept as filter
plugins (filter_plugins/records.py, artifacts.py) or scripts (a builder). One loader for bin/anshin, the unit
tests (tests/conftest.py re-exports it) and the benchmarks (bench/), so none reaches into another's folder."""

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_file(relative_path, name):
    """The repository's file RELATIVE_PATH as a module called NAME."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_module(name):
    """library/NAME.py as a module; module_utils/*.py are registered first as ansible.module_utils.*."""
    for path in (ROOT / "module_utils").glob("*.py"):
        alias = "ansible.module_utils." + path.stem
        if alias not in sys.modules:
            spec = importlib.util.spec_from_file_location(alias, path)
            sys.modules[alias] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules[alias])
    return load_file(f"library/{name}.py", name)
