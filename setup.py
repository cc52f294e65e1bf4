"""Ships a1_tally.pth, the start-up hook that measures subprocesses (`[run] patch =
subprocess`, src/tally/process.py), beside the package in site-packages: in built wheels
through build_py, in editable installs by adding it to the editable wheel. Everything
else is in pyproject.toml."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "a1_tally.pth"  # after __editable__ hooks (so tally imports), early among the rest
SOURCE = Path(__file__).parent / "src" / PTH


class BuildPyWithPth(build_py):
    """Put the hook at the top of the wheel, next to the package."""

    def run(self) -> None:
        super().run()
        self.copy_file(str(SOURCE), os.path.join(self.build_lib, PTH))


class EditableWheelWithPth(editable_wheel):
    """Add the hook to the editable wheel (PEP 660 installs never run build_py's copy)."""

    def run(self) -> None:
        super().run()
        for wheel in Path(self.dist_dir).glob("*.whl"):
            _add_to_wheel(wheel, PTH, SOURCE.read_bytes())


def _add_to_wheel(wheel: Path, name: str, data: bytes) -> None:
    """Add a file to a wheel, and its line to the RECORD so pip installs and removes it."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    with zipfile.ZipFile(wheel) as old:
        if name in old.namelist():
            return
    temp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as old, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            payload = old.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                payload += f"{name},sha256={digest},{len(data)}\n".encode()
            new.writestr(item, payload)
        new.writestr(name, data)
    os.replace(temp, wheel)


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
