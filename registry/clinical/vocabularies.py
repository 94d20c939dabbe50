"""Coded vocabularies for what research roles read (security review, finding 8).

Adverse-event terms, lesion organs, radiopharmaceuticals and lesion labels are
typed by clinicians, and the interchange format (`lutetia-cohort/1` and `/2`)
keeps them as free text. A name typed there must not reach research staff, so
research roles read each of them *coded*: a value from the list below (matched
without regard to case, spaces or hyphens, and returned in its listed
spelling), else `OTHER`. Clinicians keep seeing and exporting what they typed.

The CTCAE list holds the v5.0 terms PRRT toxicity is reported in (blood,
kidney, liver, gastrointestinal, general, endocrine, secondary malignancies),
each in CTCAE's own spelling; a term beyond it reads as `OTHER`, as CTCAE's own
"Other, specify" does.
"""

from __future__ import annotations

import re

OTHER = "other"

CTCAE_TERMS = (
    "Anemia",
    "Platelet count decreased",
    "Neutrophil count decreased",
    "White blood cell decreased",
    "Lymphocyte count decreased",
    "Febrile neutropenia",
    "Bone marrow hypocellular",
    "Myelodysplastic syndrome",
    "Leukemia secondary to oncology chemotherapy",
    "Acute kidney injury",
    "Chronic kidney disease",
    "Creatinine increased",
    "Proteinuria",
    "Hypertension",
    "Alanine aminotransferase increased",
    "Aspartate aminotransferase increased",
    "Blood bilirubin increased",
    "Alkaline phosphatase increased",
    "Hepatic failure",
    "Ascites",
    "Nausea",
    "Vomiting",
    "Diarrhea",
    "Constipation",
    "Abdominal pain",
    "Anorexia",
    "Dysgeusia",
    "Dry mouth",
    "Fatigue",
    "Fever",
    "Pain",
    "Edema limbs",
    "Weight loss",
    "Alopecia",
    "Flushing",
    "Carcinoid syndrome",
    "Hypoglycemia",
    "Hyperglycemia",
    "Hypothyroidism",
    "Hypokalemia",
    "Hyponatremia",
    "Infusion related reaction",
    "Dyspnea",
    "Bowel obstruction",
    "Thromboembolic event",
    "Death NOS",
)

ORGANS = (
    "liver",
    "lymph node",
    "bone",
    "lung",
    "pancreas",
    "small intestine",
    "colon",
    "rectum",
    "stomach",
    "peritoneum",
    "mesentery",
    "adrenal",
    "kidney",
    "spleen",
    "brain",
    "skin",
    "soft tissue",
    "breast",
    "ovary",
    "heart",
    "thyroid",
    "pleura",
    "other",
)

RADIOPHARMACEUTICALS = (
    "177Lu-octreotate",
    "177Lu-DOTA-octreotate",
    "177Lu-DOTATATE",
    "177Lu-DOTATOC",
    "177Lu-edotreotide",
    "90Y-DOTATOC",
    "90Y-DOTATATE",
    "111In-DTPA-octreotide",
)

# A lesion label as PRRT centres write them: a short letter prefix and a number
# ("L1", "T2", "N3", "LN-2", "L1.2"). Anything else (a word, a name) reads as OTHER.
_LESION_LABEL = re.compile(r"^[A-Za-z]{0,3}[-_.]?[0-9]{1,3}([._-][0-9A-Za-z]{1,3})?$")


def _key(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text).casefold()


_INDEX = {
    vocabulary: {_key(word): word for word in vocabulary}
    for vocabulary in (CTCAE_TERMS, ORGANS, RADIOPHARMACEUTICALS)
}


def coded(value: str | None, vocabulary: tuple[str, ...]) -> str | None:
    """`value` in the vocabulary's own spelling, `OTHER` when it is not in it, None if empty.

    (Adverse-event terms are CTCAE v5.0 terms, CLINICAL.md §5.)
    """
    if value is None or not str(value).strip():
        return None
    return _INDEX[vocabulary].get(_key(str(value)), OTHER)


def coded_term(value: str | None) -> str | None:
    """An adverse event's term as a CTCAE v5.0 term (§5), or `OTHER`."""
    return coded(value, CTCAE_TERMS)


def coded_organ(value: str | None) -> str | None:
    """A lesion's organ (§2: lesions of a scan) from ORGANS, or `OTHER`."""
    return coded(value, ORGANS)


def coded_radiopharmaceutical(value: str | None) -> str | None:
    """A cycle's radiopharmaceutical (§1: cycles of a course) from the list, or `OTHER`."""
    return coded(value, RADIOPHARMACEUTICALS)


def coded_lesion_label(value: str | None) -> str | None:
    """A lesion label (§2: lesions are followed by label) if a short code, else `OTHER`."""
    if value is None or not str(value).strip():
        return None
    return value if _LESION_LABEL.match(value) else OTHER


# The coder of each free-text field research roles read coded (API, pages, history).
CODERS_BY_FIELD = {
    "term": coded_term,
    "organ": coded_organ,
    "lesion": coded_lesion_label,
    "radiopharmaceutical": coded_radiopharmaceutical,
}
