"""Deterministic generator of synthetic multi-modal liver fibrosis patients."""

from generator.cohort import (
    PatientLabels,
    fold_of,
    patient_id,
    sample_labels,
    split_indices,
    split_of,
)
from generator.contract import GENERATOR_VERSION
from generator.patient import Patient, generate_patient, progression, render_patient

__all__ = [
    "GENERATOR_VERSION",
    "Patient",
    "PatientLabels",
    "fold_of",
    "generate_patient",
    "patient_id",
    "progression",
    "render_patient",
    "sample_labels",
    "split_indices",
    "split_of",
]
