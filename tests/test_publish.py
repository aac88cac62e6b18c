"""``generator/publish.py`` against a recording stand-in for ``HfApi`` (no network).

The stand-in is injected (``publish(..., api=RecordingApi())``); it records every call
and computes what ``upload_folder`` would send with ``huggingface_hub``'s own file
filter, so the tests see the files the real client would upload.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import huggingface_hub
import pytest
from huggingface_hub.utils import filter_repo_objects

from generator.contract import DATASET_NAME, GenerationParameters
from generator.export import main as export_main
from generator.manifest import MANIFEST_FILE, read_manifest
from generator.publish import OWNED_REMOTE_PATTERNS, PublishError, main, publish

TOKEN = "hf_TestOnlyNotARealToken0123456789"
SMALL = ["--num-patients", "10", "--image-size", "32", "--quiet", "--workers", "1"]


class RecordingApi:
    """Stand-in for ``huggingface_hub.HfApi``: records calls, optionally fails one."""

    def __init__(self, *, user="alice", orgs=("liver-lab",), role="write", fail=None):
        self.calls: list[tuple[str, dict]] = []
        self.user, self.orgs, self.role = user, orgs, role
        self.fail = dict(fail or {})  # method name -> exception to raise once
        self.uploaded: list[str] = []

    def _record(self, name, kwargs):
        self.calls.append((name, kwargs))
        if name in self.fail:
            raise self.fail.pop(name)

    def whoami(self, token=None, **kwargs):
        self._record("whoami", {"token": token, **kwargs})
        return {
            "name": self.user,
            "orgs": [{"name": org} for org in self.orgs],
            "auth": {"accessToken": {"role": self.role}},
        }

    def create_repo(self, **kwargs):
        self._record("create_repo", kwargs)
        return f"https://huggingface.co/datasets/{kwargs['repo_id']}"

    def create_branch(self, **kwargs):
        self._record("create_branch", kwargs)

    def upload_folder(self, **kwargs):
        self._record("upload_folder", kwargs)
        folder = Path(kwargs["folder_path"])
        files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        self.uploaded = sorted(
            filter_repo_objects(
                files,
                allow_patterns=kwargs.get("allow_patterns"),
                ignore_patterns=kwargs.get("ignore_patterns"),
            )
        )
        return huggingface_hub.CommitInfo(
            commit_url=f"https://huggingface.co/datasets/{kwargs['repo_id']}/commit/abc123",
            commit_message=kwargs.get("commit_message", ""),
            commit_description="",
            oid="abc123",
        )

    @property
    def names(self):
        return [name for name, _ in self.calls]


@pytest.fixture(autouse=True)
def offline_with_token(monkeypatch, tmp_path):
    """No network; a known token in HF_TOKEN; no cached login."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / DATASET_NAME
    assert export_main(["--out", str(out), *SMALL]) == 0
    return out


def expected_upload(folder):
    return sorted([*read_manifest(folder), MANIFEST_FILE])


class TestPublish:
    def test_creates_dataset_repo_and_uploads_every_manifest_file(self, folder, capsys):
        api = RecordingApi()
        assert main(["--repo-id", "liver-lab/cirrhosis", "--folder", str(folder)], api=api) == 0
        assert api.names == ["whoami", "create_repo", "upload_folder"]
        create = dict(api.calls)["create_repo"]
        assert create["repo_id"] == "liver-lab/cirrhosis"
        assert create["repo_type"] == "dataset" and create["exist_ok"] is True
        assert create["private"] is False
        upload = dict(api.calls)["upload_folder"]
        assert upload["repo_type"] == "dataset" and upload["repo_id"] == "liver-lab/cirrhosis"
        assert Path(upload["folder_path"]) == folder
        assert upload["revision"] is None
        assert api.uploaded == expected_upload(folder)
        assert "README.md" in api.uploaded and "data/default/train-00000-of-00001.parquet" in (
            api.uploaded
        )
        assert set(upload["delete_patterns"]) == set(OWNED_REMOTE_PATTERNS)
        assert "commit/abc123" in capsys.readouterr().out

    def test_private_and_revision(self, folder):
        api = RecordingApi()
        publish(
            "alice/liver",
            folder=folder,
            private=True,
            revision="v1",
            api=api,
            say=lambda line: None,
        )
        assert api.names == ["whoami", "create_repo", "create_branch", "upload_folder"]
        calls = dict(api.calls)
        assert calls["create_repo"]["private"] is True
        assert calls["create_branch"]["branch"] == "v1"
        assert calls["create_branch"]["repo_type"] == "dataset"
        assert calls["upload_folder"]["revision"] == "v1"

    def test_token_never_printed_or_logged(self, folder, capsys, caplog):
        caplog.set_level(logging.DEBUG)
        api = RecordingApi(fail={"upload_folder": ConnectionError(f"reset; auth was {TOKEN}")})
        assert main(["--repo-id", "liver-lab/x", "--folder", str(folder)], api=api) == 1
        assert main(["--repo-id", "liver-lab/x", "--folder", str(folder)], api=api) == 0
        assert main(["--repo-id", "liver-lab/x", "--folder", str(folder), "--dry-run"]) == 0
        captured = capsys.readouterr()
        assert TOKEN not in captured.out + captured.err + caplog.text
        assert TOKEN[:12] not in captured.out + captured.err + caplog.text
        assert all(kwargs["token"] == TOKEN for _, kwargs in api.calls)  # used, not shown

    def test_dry_run_makes_no_call(self, folder, capsys):
        api = RecordingApi()
        assert main(["--repo-id", "a/b", "--folder", str(folder), "--dry-run"], api=api) == 0
        assert api.calls == []
        out = capsys.readouterr().out
        plan = expected_upload(folder)
        total = sum((folder / path).stat().st_size for path in plan)
        for path in plan:
            assert f"  {path}  " in out
        assert f"would upload {len(plan)} files" in out
        assert f", {total} bytes)" in out
        assert "token: found in HF_TOKEN" in out

    def test_dry_run_without_token_still_lists(self, folder, capsys, monkeypatch):
        monkeypatch.delenv("HF_TOKEN")
        assert main(["--repo-id", "a/b", "--folder", str(folder), "--dry-run"]) == 0
        assert "none found; a real run would stop" in capsys.readouterr().out

    def test_rerun_after_network_failure(self, folder, capsys):
        api = RecordingApi(fail={"upload_folder": OSError("Connection reset by peer")})
        assert main(["--repo-id", "liver-lab/x", "--folder", str(folder)], api=api) == 1
        err = capsys.readouterr().err
        assert "network error while uploading: Connection reset by peer" in err
        assert "rerun the same command to resume" in err and err.count("\n") == 1
        api.calls.clear()
        assert main(["--repo-id", "liver-lab/x", "--folder", str(folder)], api=api) == 0
        assert api.names == ["whoami", "create_repo", "upload_folder"]
        assert api.uploaded == expected_upload(folder)

    def test_missing_folder_is_exported_first(self, tmp_path):
        out = tmp_path / "fresh"
        api = RecordingApi()
        lines = []
        publish(
            "alice/liver",
            folder=out,
            export_if_missing=True,
            api=api,
            quiet=True,
            say=lines.append,
            export_parameters=GenerationParameters(num_patients=8, image_size=32),
        )
        assert "exporting it first" in lines[0]
        assert "num_patients=8, image_size=32, seed=42" in lines[0]
        assert api.uploaded == expected_upload(out)
        assert len(list((out / "images").glob("*.npy"))) == 24


class TestFailures:
    @pytest.mark.parametrize(
        "repo_id",
        [
            "noslash",
            "a/b/c",
            "-a/b",
            "a/b-",
            "a/",
            "/b",
            "a b/c",
            "a/b..c",
            "a--b/c",
            "a/" + "x" * 97,
        ],
    )
    def test_malformed_repo_id(self, folder, capsys, repo_id):
        api = RecordingApi()
        assert main([f"--repo-id={repo_id}", "--folder", str(folder)], api=api) == 2
        err = capsys.readouterr().err
        assert "--repo-id must be NAMESPACE/NAME" in err and err.count("\n") == 1
        assert api.calls == []

    def test_no_token(self, folder, capsys, monkeypatch):
        monkeypatch.delenv("HF_TOKEN")
        api = RecordingApi()
        assert main(["--repo-id", "a/b", "--folder", str(folder)], api=api) == 2
        err = capsys.readouterr().err
        assert "no Hugging Face token" in err and "HF_TOKEN" in err and err.count("\n") == 1
        assert api.calls == []

    def test_folder_failing_verification(self, folder, tmp_path, capsys):
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy)
        with open(copy / "labels.csv", "a") as handle:
            handle.write("PAT_9999,F4,positive,test,60,M\n")
        (copy / "images" / "PAT_0003_US.npy").unlink()
        api = RecordingApi()
        assert main(["--repo-id", "a/b", "--folder", str(copy)], api=api) == 2
        err = capsys.readouterr().err
        assert "fails verification" in err and err.count("\n") == 1
        assert "corrupted: labels.csv" in err and "missing: images/PAT_0003_US.npy" in err
        assert api.calls == []

    def test_unfinished_export(self, folder, tmp_path, capsys):
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy)
        (copy / MANIFEST_FILE).unlink()
        api = RecordingApi()
        assert main(["--repo-id", "a/b", "--folder", str(copy)], api=api) == 2
        assert "not a finished export" in capsys.readouterr().err
        assert api.calls == []

    def test_folder_without_the_hub_parts(self, tmp_path, capsys):
        out = tmp_path / "npy-only"
        assert export_main(["--out", str(out), *SMALL, "--formats", "npy"]) == 0
        api = RecordingApi()
        assert main(["--repo-id", "a/b", "--folder", str(out)], api=api) == 2
        assert "has no README.md" in capsys.readouterr().err
        assert api.calls == []

    def test_read_only_token(self, folder, capsys):
        api = RecordingApi(role="read")
        assert main(["--repo-id", "alice/x", "--folder", str(folder)], api=api) == 2
        assert "read-only" in capsys.readouterr().err
        assert api.names == ["whoami"]

    def test_foreign_namespace(self, folder, capsys):
        api = RecordingApi()
        assert main(["--repo-id", "someone-else/x", "--folder", str(folder)], api=api) == 2
        err = capsys.readouterr().err
        assert "cannot write to namespace 'someone-else'" in err
        assert api.names == ["whoami"]

    def test_network_error_on_token_check(self, folder, capsys):
        api = RecordingApi(fail={"whoami": ConnectionError("Name or service not known")})
        assert main(["--repo-id", "alice/x", "--folder", str(folder)], api=api) == 1
        assert "network error while checking the token" in capsys.readouterr().err
        assert api.names == ["whoami"]

    def test_real_client_offline_is_a_network_error(self, folder, capsys):
        # The real HfApi, with the Hub's offline switch on: it refuses before any request.
        assert main(["--repo-id", "alice/x", "--folder", str(folder), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "network error while checking the token" in err
        assert TOKEN not in err

    def test_publish_error_carries_status(self):
        with pytest.raises(PublishError) as error_info:
            publish("bad", dry_run=True)
        assert error_info.value.status == 2

    def test_help(self, capsys):
        with pytest.raises(SystemExit) as exit_info:
            main(["--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        for flag in ("--repo-id", "--folder", "--private", "--revision", "--dry-run"):
            assert flag in text
        assert "example:" in text
