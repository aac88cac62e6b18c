"""The rooms of the generator: label ids, tissue tables, the paint order, the registry."""

from __future__ import annotations

import importlib

import pytest

from generator import label_ids as L
from generator.modalities import MODALITIES, MODALITY_COLUMNS, REGISTRY
from generator.random_streams import Stream, name_key
from generator.rasterise import PAINT_ORDER, label_table


@pytest.mark.parametrize("modality", REGISTRY, ids=MODALITIES)
def test_every_tissue_table_covers_every_label(modality):
    assert modality.tissue_tables
    for name, table in modality.tissue_tables.items():
        assert set(table) == set(L.LABEL_NAMES), (modality.name, name)
        label_table(table)  # accepted


def test_a_table_missing_a_label_is_refused():
    table = dict.fromkeys(L.LABEL_NAMES, 1.0)
    del table[L.KIDNEY]
    with pytest.raises(ValueError, match="kidney"):
        label_table(table)


def test_label_ids_are_dense_and_named_once():
    assert sorted(L.LABEL_NAMES) == list(range(L.NUM_LABELS))
    assert len(set(L.LABEL_NAMES.values())) == L.NUM_LABELS
    assert set(L.STAGE_DEPENDENT_IDS) <= set(L.LABEL_NAMES)


def test_paint_order_moves_only_stage_dependent_labels():
    """A layer of a stage-dependent label covers only stage-dependent labels; any other
    layer covers every stage-dependent label, so its extent never follows the disease."""
    dependent = frozenset(L.STAGE_DEPENDENT_IDS)
    for layer in PAINT_ORDER:
        if layer.label in dependent:
            assert layer.onto is not None and layer.onto <= dependent, layer.structure
        else:
            assert layer.onto is None or dependent <= layer.onto, layer.structure
    painted = {layer.label for layer in PAINT_ORDER}
    findings = {L.NODULE, L.SPOT, L.REFLECTION}  # stamped by their modality
    body = {L.BACKGROUND, L.SUBCUTANEOUS_FAT, L.VISCERA}  # the body's layers
    assert painted | findings | body == set(L.LABEL_NAMES)


def test_registry_names_columns_and_modules():
    assert MODALITIES == ("MRI", "CT", "US")
    assert len(set(MODALITY_COLUMNS.values())) == len(REGISTRY)
    for module_name, modality in zip(("mri", "ct", "ultrasound"), REGISTRY, strict=True):
        assert importlib.import_module(f"generator.{module_name}").MODALITY is modality


def test_named_streams_never_collide_with_the_numbered_ones():
    families = ("anatomy", *MODALITIES)
    keys = {name_key(name) for name in families}
    assert len(keys) == len(families)
    assert not keys & {int(stream) for stream in Stream}
