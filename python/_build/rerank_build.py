"""rerank_build — the PEP 517 build backend of the rerank Python package, standard library only.

It needs nothing from a package index (pyproject.toml lists no build requirements), so
`pip install ./python` works offline in a fresh venv; setuptools' backend would fetch `wheel`.
It builds a pure-Python wheel of rerank/ (plus rerank/_prefix.py recording where librerank was
installed), an sdist, and an editable wheel (PEP 660: a .pth file pointing at this directory).

Config settings: `prefix=DIR` (`pip install --config-settings prefix=DIR ./python`, or the
environment variable RERANK_PREFIX): the PREFIX of `make install PREFIX=DIR`, searched first
for DIR/lib/librerank.so.0.MINOR.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "rerank"
SUMMARY = "Python binding of librerank: cross-encoder and LLM rerankers in C (FlagReranker / CrossEncoder calls)"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # python/
PACKAGE = os.path.join(ROOT, NAME)
EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same wheel


def _version():
    with open(os.path.join(PACKAGE, "__init__.py"), encoding="utf-8") as f:
        m = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M)
    if not m:
        raise RuntimeError("no __version__ line in rerank/__init__.py")
    return m.group(1)


def _metadata(version):
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\nRequires-Python: >=3.8\n"
            "Provides-Extra: numpy\nRequires-Dist: numpy; extra == \"numpy\"\n" % (NAME, version, SUMMARY)).encode()


def _prefix(config_settings):
    prefix = (config_settings or {}).get("prefix") or os.environ.get("RERANK_PREFIX") or ""
    if prefix and not os.path.isabs(prefix):
        raise ValueError("prefix %r must be an absolute path (the PREFIX of `make install PREFIX=...`)" % prefix)
    return prefix


def _sources():
    """(archive name, path) of every module of the package, sorted."""
    names = sorted(n for n in os.listdir(PACKAGE) if n.endswith(".py") and n != "_prefix.py")
    return [(NAME + "/" + n, os.path.join(PACKAGE, n)) for n in names]


class _Wheel:
    def __init__(self, directory, version, tag="py3-none-any"):
        self.version = version
        self.dist_info = "%s-%s.dist-info" % (NAME, version)
        self.filename = "%s-%s-%s.whl" % (NAME, version, tag)
        self.tag = tag
        self.zip = zipfile.ZipFile(os.path.join(directory, self.filename), "w", zipfile.ZIP_DEFLATED)
        self.records = []

    def add(self, name, data):
        info = zipfile.ZipInfo(name, EPOCH)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append("%s,sha256=%s,%d" % (name, digest, len(data)))

    def close(self):
        self.add(self.dist_info + "/METADATA", _metadata(self.version))
        self.add(self.dist_info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: rerank_build\nRoot-Is-Purelib: true\n"
                                             "Tag: %s\n" % self.tag).encode())
        record = "\n".join(self.records + [self.dist_info + "/RECORD,,"]) + "\n"
        info = zipfile.ZipInfo(self.dist_info + "/RECORD", EPOCH)
        info.external_attr = 0o644 << 16
        self.zip.writestr(info, record)
        self.zip.close()
        return self.filename


def _no_requirements(config_settings=None):
    return []


get_requires_for_build_wheel = _no_requirements
get_requires_for_build_sdist = _no_requirements
get_requires_for_build_editable = _no_requirements


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    dist_info = "%s-%s.dist-info" % (NAME, version)
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "wb") as f:
        f.write(_metadata(version))
    return dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    wheel = _Wheel(wheel_directory, _version())
    for name, path in _sources():
        with open(path, "rb") as f:
            wheel.add(name, f.read())
    prefix = _prefix(config_settings)
    wheel.add(NAME + "/_prefix.py", ('"""Written by the build backend: the PREFIX librerank was installed to ("" = '
                                     'none given)."""\nPREFIX = %r\n' % prefix).encode())
    return wheel.close()


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    wheel = _Wheel(wheel_directory, _version())
    wheel.add("_rerank_editable.pth", (ROOT + "\n").encode())
    return wheel.close()


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = "%s-%s" % (NAME, version)
    filename = base + ".tar.gz"
    files = [("pyproject.toml", os.path.join(ROOT, "pyproject.toml")),
             ("_build/rerank_build.py", os.path.abspath(__file__))] + _sources()
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            info = tarfile.TarInfo(base + "/" + name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
        for name, path in files:
            with open(path, "rb") as f:
                add(name, f.read())
        add("PKG-INFO", _metadata(version))
    return filename
