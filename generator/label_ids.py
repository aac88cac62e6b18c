"""Label-map ids (uint8) and their names: the segmentation classes of every modality.

MRI and CT share the axial label map; ultrasound has its own, in the probe's view. The
builder's features, the dataset card and every modality's tissue tables read these ids;
``tests/test_registry.py`` checks that every table covers every id.
"""

from __future__ import annotations

BACKGROUND = 0  # air outside the body (ultrasound: outside the fan)
LIVER = 1  # liver parenchyma
SUBCUTANEOUS_FAT = 2
MUSCLE = 3  # abdominal wall and paraspinal muscles
VISCERA = 4  # intra-abdominal fat and bowel wall
BOWEL_GAS = 5
VERTEBRA = 6  # vertebra: body (cortex and marrow) and posterior elements
SPINAL_CANAL = 7  # cerebrospinal fluid
AORTA = 8
IVC = 9  # inferior vena cava
KIDNEY = 10  # right kidney
SPLEEN = 11
DIAPHRAGM = 12  # the crus over the liver's bare area, following the liver's outline
ASCITES = 13  # perihepatic free fluid (F4 minority only)
HEPATIC_VESSEL = 14  # hepatic and portal veins inside the liver
NODULE = 15  # MRI only: bright nodules inside the liver (F2-F4)
SPOT = 16  # CT only: high-density spots inside the liver (F3-F4)
REFLECTION = 17  # ultrasound only: bright reflections inside the liver (F3-F4)
RIB = 18  # rib cross-sections in the body wall
GALLBLADDER = 19  # bile-filled gallbladder in its fossa under the liver

LABEL_NAMES = {
    BACKGROUND: "background",
    LIVER: "liver",
    SUBCUTANEOUS_FAT: "subcutaneous_fat",
    MUSCLE: "muscle",
    VISCERA: "viscera",
    BOWEL_GAS: "bowel_gas",
    VERTEBRA: "vertebra",
    SPINAL_CANAL: "spinal_canal",
    AORTA: "aorta",
    IVC: "inferior_vena_cava",
    KIDNEY: "kidney",
    SPLEEN: "spleen",
    DIAPHRAGM: "diaphragm",
    ASCITES: "ascites",
    HEPATIC_VESSEL: "hepatic_vessel",
    NODULE: "liver_nodule",
    SPOT: "liver_spot",
    REFLECTION: "liver_reflection",
    RIB: "rib",
    GALLBLADDER: "gallbladder",
}
#: Number of label ids (size of per-label lookup tables).
NUM_LABELS = len(LABEL_NAMES)

#: Ids that belong to the liver (parenchyma and the focal findings drawn inside it).
LIVER_IDS = (LIVER, NODULE, SPOT, REFLECTION)
#: Ids whose extent disease drives: the liver (shape, surface, findings, the vessels cut
#: by its outline, the diaphragm over it), the spleen's size and ascites.
DISEASE_DRIVEN_IDS = (*LIVER_IDS, HEPATIC_VESSEL, DIAPHRAGM, ASCITES, SPLEEN)
#: Soft contents that the disease-driven structures displace as they grow.
DISPLACEABLE_IDS = (VISCERA, BOWEL_GAS)
#: Every id a change of stage may move: a pixel with none of these ids in either of two
#: renderings of one patient keeps its id (``tests/test_progression.py``).
STAGE_DEPENDENT_IDS = (*DISEASE_DRIVEN_IDS, *DISPLACEABLE_IDS)
