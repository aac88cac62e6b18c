"""The modality registry: every imaging modality of the dataset, in column order.

``generator.patient``, the builder, the export, the card's figures and the benchmarks
iterate over ``REGISTRY``. A new modality is one module exposing a
``generator.modality.Modality`` as ``MODALITY`` and one line here.
"""

from __future__ import annotations

from generator import ct, mri, ultrasound
from generator.modality import Modality

REGISTRY: tuple[Modality, ...] = (mri.MODALITY, ct.MODALITY, ultrasound.MODALITY)

#: Modality names (file suffixes ``images/PAT_0001_<name>.npy``), in column order.
MODALITIES = tuple(modality.name for modality in REGISTRY)
#: Modality name -> builder and Parquet column name.
MODALITY_COLUMNS = {modality.name: modality.column for modality in REGISTRY}
#: Modality name -> title for figures.
MODALITY_TITLES = {modality.name: modality.title for modality in REGISTRY}
