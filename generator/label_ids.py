"""Label-map ids (uint8) and their names: the segmentation classes of every modality.

MRI and CT share the axial label map; ultrasound has its own, in the probe's view. The
builder's features, the dataset card and every modality's tissue tables read these ids;
``tests/test_registry.py`` checks that every table covers every id.
"""

from __future__ import annotations

BACKGROUND = 0  # air outside the body (ultrasound: outside the fan)
LIVER = 1  # liver parenchyma
SUBCUTANEOUS_FAT = 2
MUSCLE = 3  # abdominal wall, intercostal, paraspinal, quadratus lumborum and psoas muscles
VISCERA = 4  # intra-abdominal (visceral) fat with small-bowel loops
BOWEL_GAS = 5  # gas in the stomach, the colon and the small bowel
VERTEBRA = (
    6  # vertebra: body (cortex and marrow), pedicles, laminae, transverse and spinous processes
)
SPINAL_CANAL = 7  # cerebrospinal fluid
AORTA = 8
IVC = 9  # inferior vena cava
KIDNEY = 10  # right kidney and the upper pole of the left
SPLEEN = 11
DIAPHRAGM = 12  # the diaphragm over the liver's bare area, following the liver's outline
ASCITES = 13  # perihepatic free fluid (F4 minority only)
HEPATIC_VESSEL = 14  # hepatic and portal veins inside the liver
NODULE = 15  # MRI only: bright nodules inside the liver (F2-F4)
SPOT = 16  # CT only: high-density spots inside the liver (F3-F4)
REFLECTION = 17  # ultrasound only: bright reflections inside the liver (F3-F4)
RIB = 18  # ribs cut obliquely: arcs in the body wall
GALLBLADDER = 19  # bile-filled gallbladder in its fossa under the liver
STOMACH_WALL = 20  # gastric wall and rugal folds
STOMACH_CONTENT = 21  # gastric fluid, layered dependently (gas above it is BOWEL_GAS)
COLON = 22  # colon at the hepatic and splenic flexures: wall and mottled stool
LUNG = 23  # lung bases in the posterior costophrenic recesses
CRUS = 24  # diaphragmatic crura around the aorta and the diaphragm over the lung bases
COSTAL_CARTILAGE = 25  # costal cartilages of the anterior costal margin
ADRENAL = 26  # adrenal glands: the right behind the IVC, the left beside the aorta
PANCREAS = 27  # pancreatic tail towards the splenic hilum

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
    STOMACH_WALL: "stomach_wall",
    STOMACH_CONTENT: "stomach_content",
    COLON: "colon",
    LUNG: "lung",
    CRUS: "diaphragmatic_crus",
    COSTAL_CARTILAGE: "costal_cartilage",
    ADRENAL: "adrenal",
    PANCREAS: "pancreas",
}
#: Number of label ids (size of per-label lookup tables).
NUM_LABELS = len(LABEL_NAMES)

#: Ids that belong to the liver (parenchyma and the focal findings drawn inside it).
LIVER_IDS = (LIVER, NODULE, SPOT, REFLECTION)
#: Ids whose extent disease drives: the liver (shape, surface, findings, the vessels cut
#: by its outline, the diaphragm over it), the spleen's size and ascites.
DISEASE_DRIVEN_IDS = (*LIVER_IDS, HEPATIC_VESSEL, DIAPHRAGM, ASCITES, SPLEEN)
#: Soft contents that the disease-driven structures displace as they grow: visceral fat,
#: the small bowel, the stomach and the colon.
DISPLACEABLE_IDS = (VISCERA, BOWEL_GAS, STOMACH_WALL, STOMACH_CONTENT, COLON)
#: Every id a change of stage may move: a pixel with none of these ids in either of two
#: renderings of one patient keeps its id (``tests/test_progression.py``).
STAGE_DEPENDENT_IDS = (*DISEASE_DRIVEN_IDS, *DISPLACEABLE_IDS)
