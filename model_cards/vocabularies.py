"""The card's own controlled vocabularies, FR and EN labels (the catalogue's filters are in model_cards.taxonomy)."""

from __future__ import annotations

from model_cards import taxonomy

CARD_VOCABULARIES: dict[str, dict[str, tuple[str, str]]] = {
    "decision_role": {
        "informs": ("Informe la décision clinique", "Informs clinical management"),
        "augments": ("Complète la décision clinique", "Augments clinical management"),
        "replaces": ("Remplace la décision clinique", "Replaces clinical management"),
    },
    "sex": {"female": ("Femmes", "Female"), "male": ("Hommes", "Male"), "all": ("Tous", "All")},
    "setting": {
        "primary_care": ("Soins primaires", "Primary care"),
        "hospital": ("Hôpital", "Hospital"),
        "emergency": ("Urgences", "Emergency care"),
        "intensive_care": ("Soins critiques", "Intensive care"),
        "outpatient": ("Consultations externes", "Outpatient care"),
        "long_term_care": ("Établissements médico-sociaux (EHPAD)", "Long-term care"),
        "home_care": ("Soins à domicile", "Home care"),
        "population": ("Population générale / santé publique", "Population / public health"),
        "research": ("Recherche", "Research"),
        "other": ("Autre", "Other"),
    },
    "output_type": {
        "prediction": ("Prédiction", "Prediction"),
        "classification": ("Classification", "Classification"),
        "recommendation": ("Recommandation", "Recommendation"),
        "evaluation": ("Évaluation", "Evaluation"),
        "analysis": ("Analyse", "Analysis"),
        "other": ("Autre", "Other"),
    },
    "validation_type": {
        "internal": ("Interne", "Internal"),
        "external": ("Externe", "External"),
        "both": ("Interne et externe", "Internal and external"),
    },
    "evaluation_data": {
        "same_source": ("Données de même source que l’entraînement", "Same source as training data"),
        "external": ("Données externes", "External data"),
        "local": ("Données locales du site de déploiement", "Local data of a deploying site"),
    },
    "metric_category": {
        "usefulness": ("Utilité, efficacité", "Usefulness, efficacy"),
        "fairness": ("Équité", "Fairness"),
        "safety": ("Sécurité, fiabilité", "Safety, reliability"),
    },
    "regulatory_status": {
        "not_medical_device": ("Hors dispositif médical", "Not a medical device"),
        "research_only": ("Usage de recherche uniquement", "Research use only"),
        "under_assessment": ("En cours d’évaluation réglementaire", "Under regulatory assessment"),
        "ce_marked": ("Marquage CE (dispositif médical)", "CE-marked medical device"),
        "other": ("Autre", "Other"),
    },
    "reference_kind": {
        "publication": ("Publication", "Publication"),
        "validation_study": ("Étude de validation", "Validation study"),
        "outcome_evaluation": ("Évaluation d’impact sur les résultats de santé", "Outcome evaluation"),
        "clinical_trial": ("Essai clinique", "Clinical trial"),
        "protocol": ("Protocole", "Protocol"),
        "registration": ("Enregistrement", "Registration"),
        "other": ("Autre", "Other"),
    },
}


def label(vocabulary: str, value: str | None, lang: str = "en") -> str:
    """The human label of a term in the card's or the catalogue's vocabularies; the raw value if unknown."""
    terms = CARD_VOCABULARIES.get(vocabulary) or taxonomy.VOCABULARIES.get(vocabulary) or {}
    if value is None:
        return ""
    pair = terms.get(value)
    if pair is None:
        return str(value)
    return pair[0] if lang == "fr" else pair[1]
