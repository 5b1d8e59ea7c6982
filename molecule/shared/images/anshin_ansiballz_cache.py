"""Test images only: keep the compiled code of Ansible's module payloads between tasks.

Every task sends its module to the host as a zip of Python sources (AnsiballZ), which Python imports
with zipimport. zipimport cannot cache bytecode, so each task compiles ansible.module_utils again (a stat
task's imports: 334 ms under -X importtime, 176 ms with this cache). A path hook (registered by
anshin_ansiballz_cache.pth) puts a zipimporter in front of those payloads whose get_code keeps the
code object under a hash of the interpreter's bytecode version (magic number), its optimisation level
(-O), the module's name and its exact source. Same source, same interpreter, same code: what a module
does is unchanged (a compile-time warning shows on the first task only). Anything unexpected (an
unreadable or corrupt entry, a cache it cannot write) compiles as zipimport would. Only root writes the
cache; only entries root owns and only root may write are read.
"""

import _imp
import marshal
import os
import sys
import zipimport

CACHE_DIR = "/var/cache/anshin-ansiballz"
# AnsiballZ's payload: <tmp>/ansible_<module>_payload_<random>/ansible_<module>_payload.zip[/package/...]
_PAYLOAD = "_payload.zip"


class CachingZipImporter(zipimport.zipimporter):
    def get_code(self, fullname):
        try:
            return self._cached_code(fullname)
        except Exception:  # a cache is never why a task fails: compile as zipimport would
            return super().get_code(fullname)

    def _cached_code(self, fullname):
        is_package = self.is_package(fullname)
        relative = self.prefix + fullname.rpartition(".")[2] + ("/__init__.py" if is_package else ".py")
        source = self.get_data(relative)  # OSError when there is no source of that name (a .pyc only)
        path = os.path.join(self.archive, relative)
        import hashlib  # here, not at start-up: every Python in the container imports this module
        from importlib.util import MAGIC_NUMBER

        key = hashlib.sha256(MAGIC_NUMBER + bytes([sys.flags.optimize]) + fullname.encode() + b"\0" + source)
        entry = os.path.join(CACHE_DIR, key.hexdigest())
        code = _load(entry)
        if code is None:
            source = source.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # as zipimport compiles it
            code = compile(source, path, "exec", dont_inherit=True)
            _store(entry, code)
        else:
            _imp._fix_co_filename(code, path)  # the cached code names the first run's temporary path
        return code


def _load(entry):
    try:
        with open(entry, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != 0 or st.st_mode & 0o022:
                return None
            return marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _store(entry, code):
    if os.geteuid() != 0:
        return
    tmp = f"{entry}.{os.getpid()}.tmp"
    try:
        os.makedirs(CACHE_DIR, mode=0o755, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps(code))
        os.replace(tmp, entry)  # whole or absent: a concurrent task never reads half an entry
    except OSError:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _hook(path):
    if _PAYLOAD not in path:
        raise ImportError("not an AnsiballZ payload")
    return CachingZipImporter(path)


def install():
    if _hook not in sys.path_hooks:  # no payload is on sys.path yet: no importer cached to forget
        sys.path_hooks.insert(0, _hook)
