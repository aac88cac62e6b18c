"""The export folder's names, defined in one place: the modules that write a part of the
folder take its names from here (see README.md, "The export folder")."""

from __future__ import annotations

CARD_FILE = "README.md"  # the dataset card
LABELS_FILE = "labels.csv"
METADATA_FILE = "metadata.csv"
PARAMETERS_FILE = "generation.json"
IMAGES_DIR = "images"  # images/PAT_0001_MRI.npy
DATA_DIR = "data"  # data/<config>/<split>-NNNNN-of-NNNNN.parquet
PARTS_DIR = ".parts"  # chunk tasks' Arrow parts until the Parquet is assembled
ASSETS_DIR = "assets"
SAMPLE_GRID_FILE = f"{ASSETS_DIR}/sample_grid.png"
PROGRESSION_FIGURE_FILE = f"{ASSETS_DIR}/progression.png"
ANATOMY_FIGURE_FILE = f"{ASSETS_DIR}/anatomy.png"
CROISSANT_FILE = "croissant.json"
DICOM_DIR = "dicom"  # dicom/PAT_0001/MR.dcm
NIFTI_DIR = "nifti"  # nifti/PAT_0001_CT.nii.gz
MANIFEST_FILE = "manifest-sha256.txt"
RECORD_FILE = ".export-record.jsonl"  # what the export wrote (generator.export_record)
#: The record's journal at a URL, where there is no append: one object per batch of lines.
RECORD_JOURNAL_DIR = ".export-record.d"
LOCK_FILE = ".export-lock"  # one export at a time (generator.folder_lock)
#: Entries that tools put into a dataset folder and that are not part of it: git's,
#: the Hub's ``.gitattributes``, the bookkeeping of ``hf download --local-dir``
#: (``.cache/huggingface``), and the export's own record (and its journal) and lock.
IGNORED_ENTRIES = (".git", ".gitattributes", ".cache", RECORD_FILE, RECORD_JOURNAL_DIR, LOCK_FILE)
