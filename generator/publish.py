"""Upload an export folder to the Hub: ``python generator/publish.py --repo-id ORG/NAME``.

Steps, each stopping with one clear line and a non-zero exit status on failure, so
nothing is uploaded before the checks pass:

1. the arguments are well formed: the repo id is ``namespace/name`` by the Hub's rules,
   the ``--revision`` a branch name, ``--workers`` at least 1, and a given ``--folder``
   exists (only the default folder is exported first, with the default parameters, if
   missing; a dry run just says so);
2. a token exists (``HF_TOKEN`` or the cached ``hf auth login``); it is never printed;
3. the folder is readable and matches its ``manifest-sha256.txt``;
4. the Hub accepts the token (``whoami``) and it may write to the namespace;
5. the dataset repo (and ``--revision`` branch) is created if missing;
6. ``HfApi.upload_folder`` uploads exactly the manifest's files and the manifest.

``huggingface_hub`` 2.4 has no ``upload_large_folder``; its ``upload_folder`` (with
``hf_xet``, a dependency of ``huggingface_hub``) streams the files, splits a large
folder into several commits, and resumes when rerun: committed files are skipped and
uploaded chunks deduplicated. So after a network failure, rerun the same command.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import huggingface_hub
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import (
    are_progress_bars_disabled,
    disable_progress_bars,
    enable_progress_bars,
)

from generator.card import CARD_FILE
from generator.contract import DATASET_NAME, GENERATOR_VERSION, GenerationParameters
from generator.export import ExportError, export
from generator.files import human_size
from generator.layout import DICOM_DIR, NIFTI_DIR
from generator.manifest import MANIFEST_FILE, ManifestError, read_manifest, verify_manifest
from generator.parquet_export import DATA_DIR
from generator.raw import IMAGES_DIR

REPO_TYPE = "dataset"
#: ``namespace/name``: letters, digits, ``-``, ``_``, ``.``; no leading or trailing
#: ``-``/``.``, no ``--`` or ``..``, at most 96 characters each, no ``.git`` ending (the
#: rules of ``huggingface_hub.utils.validate_repo_id``, with the namespace required).
_REPO_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"{_REPO_PART}/{_REPO_PART}")
#: Remote folders the export owns: files there that the new export lacks are deleted
#: in the upload (stale Parquet shards would otherwise be read as data).
OWNED_REMOTE_PATTERNS = (f"{DATA_DIR}/*", f"{IMAGES_DIR}/*", "assets/*")
#: Transport failures: ``OSError`` covers ``requests``-based and offline-mode errors; the
#: ``httpx2`` client of ``huggingface_hub`` 2.x raises its own ``HTTPError`` family.
NETWORK_ERRORS = (OSError, getattr(huggingface_hub.errors, "HTTPError", OSError))
EXIT_BAD_INPUT, EXIT_HUB = 2, 1


class PublishError(Exception):
    """A failure with a one-line message and an exit status."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not the usage block
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="publish.py",
        description="Upload the export folder to a Hugging Face Hub dataset repository "
        "(created if missing). The token comes from HF_TOKEN or `hf auth login`.",
        epilog="example: python generator/publish.py --repo-id my-lab/liver-cirrhosis "
        "--folder OpenMultiModalLiverCirrhosisDataset --dry-run\n"
        "exit status: 0 done, 2 bad input (repo id, token, folder), 1 Hub or network error "
        "(rerun to resume)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--repo-id", required=True, help="target dataset repository, ORG/NAME (or USER/NAME)"
    )
    parser.add_argument(
        "--folder",
        help=f"export folder to upload (default: {DATASET_NAME}, exported first if missing)",
    )
    parser.add_argument(
        "--private", action="store_true", help="create the repository as private if it is new"
    )
    parser.add_argument(
        "--revision", help="branch to upload to, created if missing (default: main)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list the files and total size that would be uploaded; no network access",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes if the folder must be exported (default: all cores)",
    )
    parser.add_argument(
        "--with-medical",
        action="store_true",
        help=f"also upload {', '.join(d + '/' for d in OPT_IN_DIRS)} (large; the viewer "
        "does not read them)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def check_repo_id(repo_id: str) -> None:
    """Raise ``PublishError`` unless ``repo_id`` is a well-formed ``namespace/name``."""
    if (
        not isinstance(repo_id, str)
        or not _REPO_ID.fullmatch(repo_id)
        or "--" in repo_id
        or ".." in repo_id
        or repo_id.endswith(".git")
    ):
        raise PublishError(
            "--repo-id must be NAMESPACE/NAME (letters, digits, '-', '_', '.'; at most 96 "
            f"each; no '--', '..', '-' or '.' at either end, or '.git' ending), got {repo_id!r}"
        )


def check_revision(revision: str | None) -> None:
    """Raise ``PublishError`` unless ``revision`` is ``None`` or a non-blank branch name."""
    if revision is not None and (
        not isinstance(revision, str)
        or not revision
        or any(c.isspace() or not c.isprintable() for c in revision)
    ):
        raise PublishError(
            f"--revision must be a branch name (no spaces or control characters), got {revision!r}"
        )


#: Folders of the export that are uploaded only when asked (``--with-medical``): DICOM and
#: NIfTI are large and the Hub's dataset viewer does not read them.
OPT_IN_DIRS = (DICOM_DIR, NIFTI_DIR)


def upload_plan(folder: Path, *, with_medical: bool = False) -> list[tuple[str, int]]:
    """``(relative path, size in bytes)`` of every file to upload: the manifest's (without
    ``OPT_IN_DIRS`` unless ``with_medical``) and the manifest itself."""
    folder = Path(folder)
    paths = [
        path
        for path in read_manifest(folder)
        if with_medical or path.split("/")[0] not in OPT_IN_DIRS
    ]
    paths.append(MANIFEST_FILE)
    with _reading():
        return [(path, (folder / path).stat().st_size) for path in sorted(paths)]


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Turn a file or folder that cannot be read into a ``PublishError`` naming it."""
    try:
        yield
    except OSError as error:
        path = error.filename if error.filename is not None else "a file of the folder"
        raise PublishError(f"cannot read {path}: {error.strerror or error}") from None


def _described(parameters: GenerationParameters) -> str:
    """``name=value, ...`` of ``parameters``, for the line announcing an export."""
    return ", ".join(f"{k}={v}" for k, v in parameters.as_dict().items())


def prepare_folder(
    folder: Path,
    *,
    workers: int,
    quiet: bool,
    say: Callable[[str], None],
    export_parameters: GenerationParameters | None = None,
) -> None:
    """Export ``folder`` if it is missing, then check it against its manifest.

    That export is made with ``export_parameters`` (default: ``GenerationParameters()``).
    """
    folder = Path(folder)
    with _reading():
        missing = not folder.exists()
    if missing:
        parameters = export_parameters or GenerationParameters()
        say(f"{folder} does not exist: exporting it first ({_described(parameters)})")
        try:
            export(folder, parameters, workers=workers, quiet=quiet)
        except ExportError as error:
            raise PublishError(f"export failed: {error}") from None
    with _reading():
        _check_folder(folder)


def _check_folder(folder: Path) -> None:
    """Raise ``PublishError`` unless ``folder`` is a finished export with the Hub's parts."""
    if not folder.is_dir():
        raise PublishError(f"--folder {folder} is not a folder")
    try:
        result = verify_manifest(folder)
    except ManifestError as error:
        raise PublishError(
            f"{folder} is not a finished export ({error}); "
            f"run `python generator/export.py --out {folder}` to finish it"
        ) from None
    if not result.ok:
        problems = result.describe().replace("\n", "; ")
        raise PublishError(f"{folder} fails verification against {MANIFEST_FILE}: {problems}")
    for required in (CARD_FILE, DATA_DIR):
        if not (folder / required).exists():
            raise PublishError(
                f"{folder} has no {required}: a Hub dataset needs the card and the Parquet; "
                "export with all formats"
            )


def _token_source() -> str | None:
    """Where a token would come from, looked up without network: for the dry run only."""
    if os.environ.get("HF_TOKEN"):
        return "HF_TOKEN"
    if Path(hub_constants.HF_TOKEN_PATH).is_file():
        return "the cached login"
    return None


def find_token() -> str:
    """The token from ``HF_TOKEN`` or the cached login; ``PublishError`` if there is none."""
    token = huggingface_hub.get_token()
    if not token:
        raise PublishError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login` (a write token)"
        )
    return token


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "hf_***") if token else text


@contextlib.contextmanager
def _hub_errors(step: str, token: str) -> Iterator[None]:
    """Turn Hub and network failures of ``step`` into a ``PublishError`` without the token."""
    try:
        yield
    except (json.JSONDecodeError, UnicodeDecodeError) as error:  # requests' is an OSError too
        message = _scrub(str(error), token)
        raise PublishError(
            f"unexpected answer from the Hub while {step} (not JSON: {message}); rerun later",
            EXIT_HUB,
        ) from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            raise PublishError(
                f"the Hub refused the token while {step} (HTTP {status}): check that it is "
                "valid and may write to this namespace",
                EXIT_BAD_INPUT,
            ) from None
        message = _scrub(str(error).splitlines()[0] if str(error) else type(error).__name__, token)
        raise PublishError(f"Hub error while {step}: {message}", EXIT_HUB) from None
    except NETWORK_ERRORS as error:
        message = _scrub(str(error) or type(error).__name__, token).splitlines()[0]
        raise PublishError(
            f"network error while {step}: {message}; rerun the same command to resume",
            EXIT_HUB,
        ) from None
    except ValueError as error:  # bad revision name and the like, found by the client
        raise PublishError(f"invalid request while {step}: {_scrub(str(error), token)}") from None


def check_token(api: huggingface_hub.HfApi, token: str, repo_id: str) -> str:
    """Ask the Hub who owns ``token``; refuse read-only tokens and foreign namespaces.

    Returns the user name.
    """
    with _hub_errors("checking the token", token):
        user = api.whoami(token=token)
    name, role, orgs = _token_owner(user)
    if role == "read":
        raise PublishError(f"the token of {name} is read-only; use a token with write access")
    namespaces = {name} | orgs
    namespace = repo_id.split("/")[0]
    if namespace not in namespaces:
        raise PublishError(
            f"the token of {name} cannot write to namespace {namespace!r} "
            f"(its user and organisations: {', '.join(sorted(namespaces))})"
        )
    return name


def _token_owner(user: object) -> tuple[str, object, set[str]]:
    """User name, token role and organisation names of a ``whoami`` answer."""
    try:
        name = user["name"]
        role = user.get("auth", {}).get("accessToken", {}).get("role")
        orgs = {org["name"] for org in user.get("orgs", [])}
    except (AttributeError, KeyError, TypeError):
        name, orgs = None, set()
    if not (name and isinstance(name, str) and all(isinstance(org, str) for org in orgs)):
        raise PublishError(
            "unexpected answer from the Hub while checking the token (no user name and "
            "organisations); rerun later",
            EXIT_HUB,
        )
    return name, role, orgs


def publish(
    repo_id: str,
    *,
    folder: Path | str | None = None,
    export_if_missing: bool | None = None,
    private: bool = False,
    revision: str | None = None,
    dry_run: bool = False,
    workers: int = 1,
    quiet: bool = False,
    with_medical: bool = False,
    api: huggingface_hub.HfApi | None = None,
    say: Callable[[str], None] = print,
    export_parameters: GenerationParameters | None = None,
) -> str | None:
    """Publish ``folder`` to the dataset repo ``repo_id``; return the commit URL (``None`` on
    a dry run). Raise ``PublishError`` (message, exit status) on any failure.

    ``folder`` defaults to ``DATASET_NAME``; a missing folder is exported first (with
    ``export_parameters``) if ``export_if_missing`` (default: only if ``folder`` is not
    given, as on the command line), except on a dry run, which writes nothing. ``api`` is
    the ``HfApi`` to call (a stand-in in tests); ``with_medical`` uploads ``OPT_IN_DIRS``.
    Every argument is checked before anything is written, the token looked up or sent.
    """
    check_repo_id(repo_id)
    check_revision(revision)
    if workers < 1:
        raise PublishError(f"--workers must be >= 1, got {workers}")
    if folder is not None and not str(folder).strip():
        raise PublishError(f"--folder must name a folder, got {str(folder)!r}")
    if export_if_missing is None:
        export_if_missing = folder is None
    folder = Path(DATASET_NAME if folder is None else folder)
    target = f"{hub_constants.ENDPOINT}/datasets/{repo_id}"
    where = f"{target} (revision {revision or 'main'}{', private if new' if private else ''})"
    with _reading():
        missing = not folder.exists()
    if missing and not export_if_missing:
        raise PublishError(
            f"--folder {folder} does not exist: check its spelling, or export it first with "
            f"`python generator/export.py --out {folder}`"
        )
    if missing and dry_run:
        parameters = export_parameters or GenerationParameters()
        say(
            f"dry run: {folder} does not exist; a real run would export it first "
            f"({_described(parameters)}), then upload it to {where}"
        )
        return None
    token = None if dry_run else find_token()
    prepare_folder(
        folder, workers=workers, quiet=quiet, say=say, export_parameters=export_parameters
    )
    plan = upload_plan(folder, with_medical=with_medical)
    total = sum(size for _, size in plan)
    if dry_run:
        for path, size in plan:
            say(f"  {path}  {human_size(size)}")
        source = _token_source()
        say(f"token: {'found in ' + source if source else 'none found; a real run would stop'}")
        say(
            f"dry run: would upload {len(plan)} files ({human_size(total)}, {total} bytes) "
            f"to {where}"
        )
        return None
    if api is None:
        api = huggingface_hub.HfApi(
            library_name="open-multimodal-liver-cirrhosis", library_version=GENERATOR_VERSION
        )
    user = check_token(api, token, repo_id)
    say(f"uploading {len(plan)} files ({human_size(total)}) as {user} to {where}")
    with _hub_errors("creating the repository", token):
        api.create_repo(
            repo_id=repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True, token=token
        )
    if revision:
        with _hub_errors(f"creating the branch {revision!r}", token):
            api.create_branch(
                repo_id=repo_id, repo_type=REPO_TYPE, branch=revision, exist_ok=True, token=token
            )
    with _hub_errors("uploading", token), _progress_bars(not quiet):
        commit = api.upload_folder(
            repo_id=repo_id,
            repo_type=REPO_TYPE,
            folder_path=str(folder),
            revision=revision,
            allow_patterns=[glob.escape(path) for path, _ in plan],
            delete_patterns=[
                *OWNED_REMOTE_PATTERNS,
                *((f"{d}/*" for d in OPT_IN_DIRS) if with_medical else ()),
            ],
            commit_message=f"Upload export (generator {GENERATOR_VERSION}, {len(plan)} files)",
            token=token,
        )
    url = getattr(commit, "commit_url", None) or target
    say(f"published {len(plan)} files to {target}: {url}")
    return str(url)


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """Turn the ``huggingface_hub`` progress bars off for the block if not ``enabled``."""
    was_disabled = are_progress_bars_disabled()
    if not enabled:
        disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def main(argv: list[str] | None = None, *, api: huggingface_hub.HfApi | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        publish(
            args.repo_id,
            folder=args.folder,
            private=args.private,
            revision=args.revision,
            dry_run=args.dry_run,
            workers=args.workers,
            quiet=args.quiet,
            with_medical=args.with_medical,
            api=api,
        )
    except PublishError as error:
        print(f"publish.py: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print("publish.py: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
