"""``--formats dicom,nifti`` through the export command: resume, manifest, --force, publish."""

from __future__ import annotations

import sys

import pytest

from generator.export import main
from generator.manifest import read_manifest, verify_manifest
from generator.publish import OPT_IN_DIRS, upload_plan

pytest.importorskip("pydicom")
pytest.importorskip("nibabel")

ALL = "npy,parquet,card,dicom,nifti"
SMALL = ["--num-patients", "10", "--image-size", "32", "--quiet", "--workers", "1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("medical") / "out"
    assert main(["--out", str(out), *SMALL, "--formats", ALL]) == 0
    return out


def test_every_patient_has_its_files_in_the_manifest(folder):
    listed = read_manifest(folder)
    assert sum(name.startswith("dicom/") for name in listed) == 3 * 10
    assert sum(name.startswith("nifti/") for name in listed) == 6 * 10
    assert "croissant.json" in listed
    assert verify_manifest(folder).ok
    card = (folder / "README.md").read_text()
    assert "`dicom/`" in card and "`nifti/`" in card  # the files table lists them


def test_resume_rewrites_only_the_missing_files(folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "dicom" / "PAT_0003" / "CT.dcm").unlink()
    (copy / "nifti" / "PAT_0009_US_label.nii.gz").unlink()
    assert main(["--out", str(copy), *SMALL, "--formats", ALL]) == 0
    assert (copy / "manifest-sha256.txt").read_text() == (
        folder / "manifest-sha256.txt"
    ).read_text()


def test_force_removes_them(folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert main(["--out", str(copy), *SMALL, "--seed", "7", "--force"]) == 0
    assert not list(copy.glob("dicom/*/*.dcm")) and not list(copy.glob("nifti/*.nii.gz"))
    assert verify_manifest(copy).ok


def test_publishing_them_is_opt_in(folder):
    default = {path for path, _ in upload_plan(folder)}
    assert not any(path.split("/")[0] in OPT_IN_DIRS for path in default)
    everything = {path for path, _ in upload_plan(folder, with_medical=True)}
    assert everything - default == {
        name for name in read_manifest(folder) if name.split("/")[0] in OPT_IN_DIRS
    }


def test_missing_extra_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pydicom", None)
    out = tmp_path / "out"
    assert main(["--out", str(out), *SMALL, "--formats", "npy,dicom"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install -e ".[medical]"' in err
    assert not out.exists()
