"""One reading order and one set of FR/EN labels for a card, shared by the HTML and Markdown exports.

``card_view`` turns a snapshot document into sections of rows (Markdown prose or plain text, flagged when
the value was derived from the artifact rather than declared) and tables of plain-text cells. Renderers
only choose how to escape and lay them out, so the two exports cannot disagree on content.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from model_cards import docpath
from model_cards.vocabularies import label


class Row(NamedTuple):
    """A labelled card field: ``kind`` is "md" (Markdown prose), "text", "list", "dict", or "vocab:<name>"."""

    path: str  # relative to the card
    label: tuple[str, str]
    kind: str = "md"


SECTIONS: tuple[tuple[str, tuple[str, str], tuple[Row, ...]], ...] = (
    ("intended_use", ("Usage prévu", "Intended use"), (
        Row("intended_use.primary_uses", ("Usages prévus", "Primary uses")),
        Row("intended_use.primary_users", ("Utilisateurs prévus", "Primary users")),
        Row("intended_use.decision_role", ("Rôle dans la décision", "Decision role"), "vocab:decision_role"),
        Row("intended_use.instructions", ("Mode d’emploi", "Instructions for use")),
        Row("intended_use.out_of_scope_uses", ("Usages exclus", "Out-of-scope uses")),
    )),
    ("intended_population", ("Population et contexte", "Population and setting"), (
        Row("intended_population.description", ("Population cible", "Intended population")),
        Row("intended_population.age_min", ("Âge minimal", "Minimum age"), "text"),
        Row("intended_population.age_max", ("Âge maximal", "Maximum age"), "text"),
        Row("intended_population.sex", ("Sexe", "Sex"), "vocab:sex"),
        Row("intended_population.setting", ("Contexte de soins", "Care setting"), "vocab:setting"),
        Row("intended_population.geography", ("Zone géographique", "Geography"), "text"),
    )),
    ("model_details", ("Description du modèle", "Model details"), (
        Row("model_details.model_type", ("Type de modèle", "Model type"), "text"),
        Row("model_details.architecture", ("Architecture", "Architecture")),
        Row("model_details.hyperparameters", ("Hyperparamètres", "Hyper-parameters"), "dict"),
        Row("model_details.developers", ("Auteurs", "Developers"), "list"),
        Row("model_details.contact", ("Contact", "Contact"), "text"),
        Row("model_details.release_date", ("Date de mise à disposition", "Release date"), "text"),
        Row("model_details.change_summary", ("Changements depuis la version précédente", "Changes since previous")),
    )),
    ("training_data", ("Données d’entraînement", "Training data"), (
        Row("training_data.name", ("Jeu de données", "Dataset"), "text"),
        Row("training_data.source", ("Source", "Source"), "vocab:data_source"),
        Row("training_data.description", ("Description", "Description")),
        Row("training_data.period_start", ("Début de période", "Period start"), "text"),
        Row("training_data.period_end", ("Fin de période", "Period end"), "text"),
        Row("training_data.size", ("Effectif", "Size"), "text"),
        Row("training_data.inclusion_criteria", ("Critères d’inclusion", "Inclusion criteria")),
        Row("training_data.exclusion_criteria", ("Critères d’exclusion", "Exclusion criteria")),
        Row("training_data.label_definition", ("Définition de la cible", "Label definition")),
        Row("training_data.preprocessing", ("Prétraitements", "Preprocessing")),
        Row("training_data.extraction", ("Extraction", "Extraction")),
        Row("training_data.missing_data", ("Données manquantes", "Missing data")),
        Row("training_data.class_imbalance", ("Déséquilibre des classes", "Class imbalance")),
        Row("training_data.representativeness", ("Représentativité", "Representativeness")),
    )),
    ("input_output", ("Entrées et sorties", "Inputs and outputs"), (
        Row("input_output.output_type", ("Type de sortie", "Output type"), "vocab:output_type"),
        Row("input_output.output_description", ("Description de la sortie", "Output description")),
    )),
    ("performance", ("Performance", "Performance"), ()),
    ("validation", ("Validation", "Validation"), (
        Row("validation.type", ("Type de validation", "Validation type"), "vocab:validation_type"),
        Row("validation.performed_by", ("Réalisée par", "Performed by"), "text"),
        Row("validation.dataset", ("Données de validation", "Validation data"), "text"),
        Row("validation.protocol", ("Protocole", "Protocol")),
        Row("validation.representativeness", ("Représentativité", "Representativeness")),
        Row("validation.metrics_rationale", ("Choix des métriques", "Choice of metrics")),
        Row("validation.publication_doi", ("DOI de la publication", "Publication DOI"), "text"),
        Row("validation.publication_url", ("Publication", "Publication"), "text"),
    )),
    ("fairness", ("Biais et équité", "Bias and fairness"), (
        Row("bias_mitigations", ("Mesures contre les biais", "Bias mitigations")),
    )),
    ("risks", ("Limites, risques et contrôle humain", "Limitations, risks and oversight"), (
        Row("limitations", ("Limites connues", "Known limitations")),
        Row("caveats_recommendations", ("Mises en garde et recommandations", "Caveats and recommendations")),
        Row("risk_management", ("Gestion des risques", "Risk management")),
        Row("human_oversight", ("Contrôle humain", "Human oversight")),
        Row("ethical_considerations", ("Considérations éthiques", "Ethical considerations")),
        Row("security", ("Sécurité", "Security")),
    )),
    ("maintenance", ("Maintenance", "Maintenance"), (
        Row("maintenance.schedule", ("Calendrier", "Schedule"), "text"),
        Row("maintenance.next_review", ("Prochaine revue de la fiche", "Next review of the card"), "text"),
        Row("maintenance.review_interval_months", ("Intervalle entre revues (mois)", "Months between reviews"), "text"),
        Row("maintenance.update_policy", ("Politique de mise à jour", "Update policy")),
        Row("maintenance.monitoring", ("Surveillance de la performance", "Performance monitoring")),
        Row("maintenance.fairness_monitoring", ("Surveillance de l’équité", "Fairness monitoring")),
        Row("maintenance.expected_lifetime", ("Durée de vie prévue", "Expected lifetime"), "text"),
        Row("maintenance.contact", ("Contact maintenance", "Maintenance contact"), "text"),
    )),
    ("dependencies", ("Dépendances", "Dependencies"), (
        Row("dependencies.runtime", ("Environnement d’exécution", "Runtime"), "list"),
        Row("dependencies.hardware", ("Matériel", "Hardware")),
    )),
    ("regulatory", ("Statut réglementaire", "Regulatory status"), (
        Row("regulatory.status", ("Statut", "Status"), "vocab:regulatory_status"),
        Row("regulatory.risk_class", ("Classe de risque", "Risk class"), "text"),
        Row("regulatory.standards", ("Normes appliquées", "Standards applied"), "list"),
        Row("regulatory.notes", ("Notes", "Notes")),
    )),
    ("governance", ("Financement et parties prenantes", "Funding and stakeholders"), (
        Row("funding", ("Financement", "Funding")),
        Row("conflicts_of_interest", ("Liens d’intérêts", "Conflicts of interest")),
        Row("patient_public_involvement", ("Implication des patients et du public", "Patient and public involvement")),
    )),
)


def card_view(document: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """The document as header facts, then sections of rows and tables, in ``lang`` ("fr" or "en")."""
    lang = "fr" if lang == "fr" else "en"
    i = 0 if lang == "fr" else 1
    algorithm, card = document.get("algorithm") or {}, document.get("card") or {}
    derived = set((card.get("derived") or {}).get("fields") or [])
    sections = []
    for section_id, title, rows in SECTIONS:
        view_rows = []
        for row in rows:
            values = docpath.resolve(card, row.path)
            if values and docpath.filled(values[0]):
                view_rows.append({
                    "label": row.label[i], "kind": "md" if row.kind == "md" else "text",
                    "value": values[0] if row.kind == "md" else _text(values[0], row.kind, lang),
                    "derived": row.path in derived,
                })
        tables = [t for t in _tables(section_id, document, lang, derived) if t["rows"]]
        if view_rows or tables:
            sections.append({"id": section_id, "title": title[i], "rows": view_rows, "tables": tables})
    return {
        "lang": lang,
        "title": algorithm.get("name") or algorithm.get("slug") or "",
        "summary": algorithm.get("summary") or "",
        "description": algorithm.get("description") or "",
        "facts": _facts(document, lang),
        "sections": sections,
        "derived": card.get("derived") or None,
    }


def number(value: Any, lang: str) -> str:
    """A number as people read it: no float noise, a decimal comma in French."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    text = f"{value:,}" if isinstance(value, int) else f"{value:.6g}"
    return text.replace(",", "\u202f").replace(".", ",") if lang == "fr" else text


def _text(value: Any, kind: str, lang: str) -> str:
    if kind.startswith("vocab:"):
        return label(kind.split(":", 1)[1], value, lang)
    if kind == "list":
        return ", ".join(str(v) for v in value)
    if kind == "dict":
        return ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(value.items()))
    return number(value, lang) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


_KINDS = {"ml_model": ("Modèle d’apprentissage", "Machine-learning model"),
          "rule_based": ("Algorithme à base de règles", "Rule-based algorithm")}


def _facts(document: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    i = 0 if lang == "fr" else 1
    a, v, art = document.get("algorithm") or {}, document.get("version") or {}, document.get("artifacts") or {}
    organisation = (a.get("organisation") or {}).get("name")
    kind = a.get("kind")
    facts = [
        (("Version", "Version"), v.get("version")),
        (("Version précédente", "Previous version"), v.get("previous_version")),
        (("Publiée le", "Published"), (v.get("published_at") or "")[:10]),
        (("Publiée par", "Published by"), v.get("published_by")),
        (("Organisme", "Organisation"), organisation),
        (("Responsables", "Owners"), ", ".join(a.get("owners") or [])),
        (("Type", "Kind"), _KINDS[kind][i] if kind in _KINDS else kind),
        (("Licence", "License"), a.get("license")),
        (("Objectif", "Objective"), label("objective", a.get("objective"), lang)),
        (("Domaine", "Clinical domain"), label("clinical_domain", a.get("clinical_domain"), lang)),
        (("Données d’application", "Data of application"), label("data_source", a.get("data_source"), lang)),
        (("Langage", "Language"), label("language", a.get("language"), lang)),
        (("Validation", "Validation status"), label("validation_status", a.get("validation_status"), lang)),
        (("Maintenance", "Maintenance status"), label("maintenance_status", a.get("maintenance_status"), lang)),
        (("Dépôt de code", "Code repository"), a.get("code_repository_url")),
        (("Commit", "Commit"), a.get("code_commit")),
        (("Empreinte de l’archive (SHA-256)", "Archive digest (SHA-256)"), art.get("archive_sha256")),
        (("Adresse citable", "Citable URL"), v.get("url")),
    ]
    return [(names[i], str(value)) for names, value in facts if docpath.filled(value)]


# The words of the audit table: kinds, statuses and verdict counts, in French and English.
AUDIT_WORDS = {
    "bias": ("audit de biais", "bias audit"), "drift": ("rapport de dérive", "drift report"),
    "succeeded": ("terminé", "finished"), "failed": ("échoué", "failed"), "queued": ("en attente", "queued"),
    "running": ("en cours", "running"), "pass": ("dans la tolérance", "within tolerance"),
    "fail": ("hors tolérance", "outside tolerance"), "insufficient_evidence": ("preuves insuffisantes",
                                                                               "insufficient evidence"),
    "fail_unadjusted": ("hors tolérance sans ajustement", "outside tolerance without adjustment"),
}


def _audit_summary(summary: dict[str, Any], lang: str) -> str:
    """Verdict counts as words ("hors tolérance : 13 · …"); keys without words are left out."""
    fr = lang == "fr"
    colon = "\u202f: " if fr else ": "
    order = ("fail", "insufficient_evidence", "pass", "fail_unadjusted")
    return " · ".join(f"{AUDIT_WORDS[key][0 if fr else 1]}{colon}{number(summary[key], lang)}"
                      for key in order if isinstance(summary.get(key), int))


def _tables(section_id: str, document: dict[str, Any], lang: str, derived: set[str]) -> list[dict[str, Any]]:
    fr = lang == "fr"
    card = document.get("card") or {}
    n = lambda value: number(value, lang)  # noqa: E731 - a local shorthand keeps the rows readable

    def table(title: tuple[str, str], headers: tuple[tuple[str, str], ...], rows: list[list[str]], path: str = ""):
        return {"title": title[0 if fr else 1], "headers": [h[0 if fr else 1] for h in headers], "rows": rows,
                "derived": path in derived}

    io = card.get("input_output") or {}
    io_headers = (("Nom", "Name"), ("Type", "Type"), ("Obligatoire", "Required"), ("Description", "Description"))
    yes_no: dict[object, str] = {True: "oui" if fr else "yes", False: "non" if fr else "no"}

    def io_rows(items: list[dict[str, Any]]) -> list[list[str]]:
        return [[str(f.get("name", "")), str(f.get("type", "")), yes_no.get(f.get("required"), ""),
                 str(f.get("description", ""))] for f in items]

    if section_id == "input_output":
        return [table(("Entrées", "Inputs"), io_headers, io_rows(io.get("inputs") or []), "input_output.inputs"),
                table(("Sorties", "Outputs"), io_headers, io_rows(io.get("outputs") or []), "input_output.outputs")]
    if section_id == "performance":
        headers = (("Mesure", "Metric"), ("Valeur", "Value"), ("IC", "CI"), ("Niveau", "Level"),
                   ("Données", "Dataset"), ("Sous-groupe", "Subgroup"), ("Origine des données", "Evaluation data"))
        rows = [[str(m.get("name", "")), n(m.get("value")),
                 f"{n(m['ci_low'])} – {n(m['ci_high'])}" if m.get("ci_low") is not None else "",
                 f"{n(round(m['level'] * 100, 2))} %" if m.get("level") is not None else "",
                 str(m.get("dataset", "")), str(m.get("subgroup", "")),
                 label("evaluation_data", m.get("evaluation_data"), lang)]
                for m in card.get("performance_metrics") or []]
        return [table(("Mesures de performance", "Performance measures"), headers, rows)]
    if section_id == "fairness":
        attributes = [[str(a.get("name", "")), yes_no.get(a.get("used_as_input"), ""), ", ".join(a.get("groups") or []),
                       str(a.get("rationale", "")).replace("\n", " ")] for a in card.get("sensitive_attributes") or []]
        audits = [[AUDIT_WORDS.get(str(x.get("kind", "")), ("", ""))[0 if fr else 1] or str(x.get("kind", "")),
                   AUDIT_WORDS.get(str(x.get("status", "")), ("", ""))[0 if fr else 1] or str(x.get("status", "")),
                   str((x.get("dataset") or {}).get("name", "")), str(x.get("finished_at") or "")[:10],
                   _audit_summary(x.get("summary") or {}, lang)]
                  for x in document.get("audits") or []]
        return [
            table(("Attributs sensibles", "Sensitive attributes"),
                  (("Attribut", "Attribute"), ("Entrée du modèle", "Model input"), ("Groupes", "Groups"),
                   ("Justification", "Rationale")), attributes),
            table(("Audits", "Audits"), (("Type", "Kind"), ("Statut", "Status"), ("Jeu de référence", "Reference data"),
                                         ("Terminé le", "Finished"), ("Résultat", "Summary")), audits),
        ]
    if section_id == "governance":
        refs = [[str(r.get("title", "")), label("reference_kind", r.get("kind"), lang),
                 f"https://doi.org/{r['doi']}" if r.get("doi") else str(r.get("url", ""))]
                for r in card.get("references") or []]
        manifest = [[str(f.get("path", "")), str(f.get("sha256", "")), n(f.get("size"))]
                    for f in (document.get("artifacts") or {}).get("manifest") or []]
        return [table(("Références", "References"), (("Titre", "Title"), ("Type", "Kind"), ("Lien", "Link")), refs),
                table(("Fichiers déposés", "Uploaded files"),
                      (("Chemin", "Path"), ("SHA-256", "SHA-256"), ("Taille (octets)", "Size (bytes)")), manifest)]
    return []
