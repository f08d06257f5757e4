"""What each demo algorithm's card says of itself: its use, its population, its data and its limits.

The demo starts from the complete example card (the 12-month hospitalisation model, 65 and over) and
replaces, for every other algorithm, each field that would otherwise describe that model. Performance
figures are never written here: ``boas.demo`` computes them on its own held-out cohort.
"""

from __future__ import annotations

import copy
from typing import Any

SYNTHETIC = "Cohorte **synthétique** générée par BOAS (structure de type SNDS), aucune donnée réelle."

OVERRIDES: dict[str, dict[str, Any]] = {
    "hospitalisation-non-programmee": {
        "intended_use": {
            "primary_uses": "Estimer, pour chaque adulte suivi en médecine générale, le risque d’hospitalisation non "
                            "programmée dans l’année, pour prioriser les actions de prévention.",
            "primary_users": "Médecins généralistes et équipes de soins primaires.",
        },
        "intended_population": {"age_min": 18, "age_max": 120, "setting": "primary_care",
                                "description": "Adultes suivis en médecine générale, vivant à domicile."},
        "training_data": {"name": "cohorte-synthetique-boas-adultes", "description": SYNTHETIC, "size": 30000,
                          "inclusion_criteria": "Adultes de 18 ans et plus de la cohorte synthétique.",
                          "label_definition": "Au moins une hospitalisation non programmée dans l’année (simulée)."},
    },
    "readmission-30-jours": {
        "intended_use": {
            "primary_uses": "Estimer, à la sortie d’une hospitalisation, le risque de réhospitalisation non programmée "
                            "dans les 30 jours, pour organiser le suivi de sortie (appel infirmier, consultation "
                            "précoce).",
            "primary_users": "Équipes hospitalières de médecine et de cardiologie, coordination de sortie.",
            "instructions": "Le score est calculé la veille de la sortie\u202f; il complète le jugement clinique et "
                            "ne décide d’aucune sortie.",
        },
        "intended_population": {"age_min": 18, "age_max": 120, "setting": "hospital",
                                "description": "Adultes hospitalisés en médecine ou en cardiologie, à leur sortie."},
        "training_data": {"name": "cohorte-synthetique-boas-sejours", "description": SYNTHETIC, "size": 30000,
                          "inclusion_criteria": "Séjours d’adultes de la cohorte synthétique.",
                          "label_definition": "Réhospitalisation non programmée dans les 30 jours (simulée)\u202f; "
                                              "chez les femmes, 60 % des événements ont été effacés des étiquettes "
                                              "d’entraînement pour reproduire un sous-codage."},
    },
    "ciblage-diabete-traite": {
        "intended_use": {
            "primary_uses": "Repérer dans le DCIR les personnes traitées pharmacologiquement pour un diabète\u202f: "
                            "au moins trois délivrances d’antidiabétiques (ATC A10) dans l’année.",
            "primary_users": "Épidémiologistes et chargés d’études travaillant sur le SNDS.",
            "instructions": "Exécuter le programme SAS sur une année civile du DCIR\u202f; il produit la table des "
                            "bénéficiaires ciblés.",
            "decision_role": "informs",
        },
        "intended_population": {"age_min": 0, "age_max": 120, "setting": "population",
                                "description": "Bénéficiaires de l’assurance maladie présents dans le DCIR."},
        "training_data": {"name": "sans-objet-algorithme-a-regles", "size": 20000,
                          "description": "Algorithme à règles, sans apprentissage\u202f: ses performances sont "
                                         "mesurées sur une cohorte synthétique dont le diabète est confirmé "
                                         "(étalon simulé).",
                          "inclusion_criteria": "Toute personne de la cohorte synthétique d’évaluation.",
                          "label_definition": "Diabète confirmé par le dossier médical (simulé)."},
        "input_output": {"output_description": "Table des bénéficiaires ciblés (identifiant pseudonymisé).",
                         "output_type": "classification"},
    },
    "cartographie-insuffisance-renale": {
        "intended_use": {
            "primary_uses": "Repérer l’insuffisance rénale chronique dans le PMSI (dialyse, greffe, diagnostics "
                            "N18) pour la cartographie des pathologies.",
            "primary_users": "Épidémiologistes et chargés d’études travaillant sur le SNDS.",
            "instructions": "Exécuter la requête SQL sur une année du PMSI MCO.",
            "decision_role": "informs",
        },
        "intended_population": {"age_min": 0, "age_max": 120, "setting": "population",
                                "description": "Personnes ayant au moins un séjour MCO dans l’année."},
        "training_data": {"name": "sans-objet-algorithme-a-regles", "size": 20000,
                          "description": "Requête à règles, sans apprentissage\u202f: aucune donnée d’entraînement.",
                          "inclusion_criteria": "Séjours MCO de l’année étudiée.",
                          "label_definition": "Sans objet (pas d’étiquette apprise)."},
        "input_output": {"output_description": "Liste des bénéficiaires repérés (identifiant pseudonymisé).",
                         "output_type": "classification"},
    },
}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def card_for(slug: str, example: dict[str, Any]) -> dict[str, Any]:
    """The example card rewritten for the demo algorithm ``slug``."""
    return _merge(copy.deepcopy(example), OVERRIDES.get(slug, {}))
