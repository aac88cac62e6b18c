"""``generator/publish.py`` under careless and hostile use (no network).

Each class reproduces one attack that once failed: a dry run that exported, repo ids the
Hub refuses, odd ``whoami`` answers, unreadable files, blank arguments. The recording
``HfApi`` stand-in and the fixtures come from ``test_publish``.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import httpx2
import huggingface_hub
import pytest
import requests
import test_publish
from huggingface_hub.utils import validate_repo_id
from huggingface_hub.utils._http import default_client_factory
from test_publish import TOKEN, RecordingApi, expected_upload

import generator.publish as publish_module
from generator.contract import DATASET_NAME, GenerationParameters
from generator.export import export as real_export
from generator.manifest import verify_manifest
from generator.publish import PublishError, check_repo_id, main, publish

#: ``test_publish``'s fixtures: offline with a known token (autouse); a small export.
offline_with_token, folder = test_publish.offline_with_token, test_publish.folder


@pytest.fixture
def exports(monkeypatch):
    """Record ``publish``'s exports instead of writing the default 1000-patient folder."""
    calls = []
    monkeypatch.setattr(publish_module, "export", lambda *args, **kwargs: calls.append(args))
    return calls


@pytest.fixture
def token_lookups(monkeypatch):
    """Record every look-up of the token (``find_token`` and ``huggingface_hub.get_token``)."""
    calls = []
    find_token, get_token = publish_module.find_token, huggingface_hub.get_token

    def recorded(name, function):
        return lambda *args, **kwargs: calls.append(name) or function(*args, **kwargs)

    monkeypatch.setattr(publish_module, "find_token", recorded("find_token", find_token))
    monkeypatch.setattr(huggingface_hub, "get_token", recorded("get_token", get_token))
    return calls


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("publish.py: error: "), err
    return err


class TestMissingFolder:
    def test_dry_run_never_exports_the_default_folder(self, tmp_path, monkeypatch, exports, capsys):
        monkeypatch.chdir(tmp_path)
        api = RecordingApi()
        assert main(["--repo-id", "liver-lab/x", "--dry-run"], api=api) == 0
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and "a real run would export it first" in out
        assert "num_patients=1000, image_size=224, seed=42" in out
        assert exports == [] and api.calls == [] and list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("dry_run", [True, False])
    def test_mistyped_folder_is_one_error(self, tmp_path, exports, token_lookups, capsys, dry_run):
        typo = tmp_path / "OpenMultiModalLiverCirrhosisDatset"
        api = RecordingApi()
        argv = ["--repo-id", "liver-lab/x", "--folder", str(typo)]
        assert main(argv + ["--dry-run"] * dry_run, api=api) == 2
        err = one_error_line(capsys)
        assert f"--folder {typo} does not exist" in err and "spelling" in err
        assert f"python generator/export.py --out {typo}" in err
        assert exports == [] and api.calls == [] and token_lookups == []
        assert list(tmp_path.iterdir()) == []

    def test_api_dry_run_writes_nothing_even_if_asked_to_export(self, tmp_path, exports):
        lines = []
        out = tmp_path / "fresh"
        parameters = GenerationParameters(num_patients=8, image_size=32)
        assert (
            publish(
                "alice/x",
                folder=out,
                export_if_missing=True,
                dry_run=True,
                say=lines.append,
                export_parameters=parameters,
            )
            is None
        )
        assert len(lines) == 1 and "num_patients=8, image_size=32" in lines[0]
        assert exports == [] and not out.exists()

    def test_real_run_exports_the_missing_default_folder(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        asked = []

        def small_export(out, parameters, **kwargs):
            asked.append(parameters)
            real_export(out, GenerationParameters(num_patients=4, image_size=32), quiet=True)

        monkeypatch.setattr(publish_module, "export", small_export)
        api = RecordingApi()
        assert main(["--repo-id", "alice/x", "--quiet", "--workers", "1"], api=api) == 0
        assert asked == [GenerationParameters()]
        assert api.uploaded == expected_upload(tmp_path / DATASET_NAME)


#: Ids the old ``re.match(...$)`` check let through, though the Hub refuses them.
HUB_REFUSED = ["liver-lab/cirrhosis\n", "liver-lab/cirrhosis.git", "liver-lab/x.git"]


class TestRepoId:
    @pytest.mark.parametrize("repo_id", HUB_REFUSED)
    def test_refused_before_the_token_is_looked_up(self, folder, token_lookups, capsys, repo_id):
        api = RecordingApi(user="liver-lab")
        assert main([f"--repo-id={repo_id}", "--folder", str(folder)], api=api) == 2
        err = one_error_line(capsys)
        assert "--repo-id must be NAMESPACE/NAME" in err and repr(repo_id) in err
        assert api.calls == [] and token_lookups == []

    @pytest.mark.parametrize(
        "repo_id",
        [
            *HUB_REFUSED,
            "a/b",
            "_a/b_",
            "a_/_b",
            "a.b/c-d",
            "a/b.GIT",
            "a/.b",
            "a/b.",
            "-a/b",
            "a/b-",
            "a--b/c",
            "a/b..c",
            "a/b\r",
            "\na/b",
            "a/b c",
            "café/x",
            "a/b/c",
            "a",
            "x" * 96 + "/" + "y" * 96,
            "x" * 97 + "/b",
            "a/" + "y" * 97,
        ],
    )
    def test_agrees_with_huggingface_hub(self, repo_id):
        try:
            validate_repo_id(repo_id)
            hub_accepts = "/" in repo_id  # a namespace is required here
        except huggingface_hub.errors.HFValidationError:
            hub_accepts = False
        try:
            check_repo_id(repo_id)
            accepted = True
        except PublishError:
            accepted = False
        assert accepted == hub_accepts


class OddWhoami(RecordingApi):
    """A stand-in whose ``whoami`` returns ``answer``."""

    def __init__(self, answer):
        super().__init__()
        self.answer = answer

    def whoami(self, token=None, **kwargs):
        self._record("whoami", {"token": token, **kwargs})
        return self.answer


class TestOddHubAnswers:
    @pytest.mark.parametrize(
        "answer",
        [
            [],
            "alice",
            None,
            {"orgs": []},
            {"name": ""},
            {"name": ["alice"]},
            {"name": "alice", "orgs": "liver-lab"},
            {"name": "alice", "orgs": [["liver-lab"]]},
            {"name": "alice", "orgs": [{"name": 7}]},
            {"name": "alice", "auth": []},
            {"name": "alice", "auth": {"accessToken": "write"}},
        ],
    )
    def test_unexpected_shape_is_a_hub_error(self, folder, capsys, answer):
        api = OddWhoami(answer)
        assert main(["--repo-id", "alice/x", "--folder", str(folder)], api=api) == 1
        err = one_error_line(capsys)
        assert "unexpected answer from the Hub while checking the token" in err
        assert api.names == ["whoami"]

    @pytest.fixture
    def hub_answers_html(self, monkeypatch):
        """The real client, served an HTML page (a proxy's, say) for every request."""
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        page = httpx2.MockTransport(lambda request: httpx2.Response(200, text="<html>login</html>"))
        huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=page))
        yield
        huggingface_hub.set_client_factory(default_client_factory)

    def test_non_json_answer_of_the_real_client(self, folder, capsys, hub_answers_html):
        assert main(["--repo-id", "alice/x", "--folder", str(folder), "--quiet"]) == 1
        err = one_error_line(capsys)
        assert "unexpected answer from the Hub while checking the token (not JSON" in err
        assert TOKEN not in err

    @pytest.mark.parametrize(
        "error",
        [
            json.JSONDecodeError("Expecting value", "<html>", 0),
            requests.exceptions.JSONDecodeError("Expecting value", "<html>", 0),
        ],
    )
    def test_non_json_answer(self, folder, capsys, error):
        api = RecordingApi(fail={"whoami": error})
        assert main(["--repo-id", "alice/x", "--folder", str(folder)], api=api) == 1
        assert "unexpected answer from the Hub while checking the token" in one_error_line(capsys)


def permission_denied(path):
    return PermissionError(13, "Permission denied", str(path))


class TestUnreadable:
    @pytest.fixture
    def deny(self, monkeypatch):
        """``deny(path, "open" or "stat")`` makes that call on ``path`` fail as for chmod 000."""

        def deny(path, call):
            if call == "open":
                original = builtins.open

                def fake(file, *args, **kwargs):
                    if isinstance(file, (str, Path)) and Path(file) == path:
                        raise permission_denied(path)
                    return original(file, *args, **kwargs)

                monkeypatch.setattr(builtins, "open", fake)
            else:
                original = Path.stat

                def fake(self, **kwargs):
                    if self == path:
                        raise permission_denied(path)
                    return original(self, **kwargs)

                monkeypatch.setattr(Path, "stat", fake)

        return deny

    @pytest.mark.parametrize("dry_run", [True, False])
    def test_file_unreadable_while_hashing(self, folder, capsys, deny, dry_run):
        target = folder / "labels.csv"
        deny(target, "open")
        api = RecordingApi()
        argv = ["--repo-id", "alice/x", "--folder", str(folder)] + ["--dry-run"] * dry_run
        assert main(argv, api=api) == 2
        err = one_error_line(capsys)  # from publish, or the manifest's own verification
        assert "labels.csv" in err and "Permission denied" in err
        assert api.calls == []

    def test_file_unreadable_while_planning(self, folder, capsys, deny, monkeypatch):
        verified = verify_manifest(folder)
        monkeypatch.setattr(publish_module, "verify_manifest", lambda folder: verified)
        target = sorted((folder / "images").glob("*.npy"))[0]
        deny(target, "stat")
        api = RecordingApi()
        assert main(["--repo-id", "alice/x", "--folder", str(folder)], api=api) == 2
        assert f"cannot read {target}: Permission denied" in one_error_line(capsys)
        assert api.calls == []

    def test_folder_unreadable(self, folder, capsys, deny):
        deny(folder, "stat")
        assert main(["--repo-id", "alice/x", "--folder", str(folder), "--dry-run"]) == 2
        assert f"cannot read {folder}: Permission denied" in one_error_line(capsys)


class TestArguments:
    @pytest.mark.parametrize("revision", ["", "   ", "\t", "v1\n", "v 1"])
    def test_blank_or_spaced_revision(self, folder, token_lookups, capsys, revision):
        api = RecordingApi()
        argv = ["--repo-id", "alice/x", "--folder", str(folder), f"--revision={revision}"]
        assert main(argv, api=api) == 2
        err = one_error_line(capsys)
        assert "--revision must be a branch name" in err and repr(revision) in err
        assert api.calls == [] and token_lookups == []

    def test_empty_folder(self, tmp_path, monkeypatch, exports, token_lookups, capsys):
        monkeypatch.chdir(tmp_path)
        api = RecordingApi()
        assert main(["--repo-id", "alice/x", "--folder="], api=api) == 2
        assert "--folder must name a folder, got ''" in one_error_line(capsys)
        assert api.calls == [] and token_lookups == [] and exports == []

    @pytest.mark.parametrize("workers", ["0", "-3"])
    def test_workers_before_any_export(self, tmp_path, monkeypatch, exports, capsys, workers):
        monkeypatch.chdir(tmp_path)
        assert main(["--repo-id", "alice/x", "--workers", workers]) == 2
        assert f"--workers must be >= 1, got {workers}" in one_error_line(capsys)
        assert exports == [] and list(tmp_path.iterdir()) == []
