"""The common quality baseline (national strategy "IA et données de santé"): what a card needs to be published.

Four pillars, each a list of checkable items read from one table (``ITEMS``): traceability, transparency of
training, auditability of bias, technical documentation. An item is *mandatory* for some algorithm kinds; a
version is publishable when every mandatory item is satisfied. The score counts optional items too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from model_cards import docpath

PILLARS: dict[str, tuple[str, str]] = {
    "traceability": ("Traçabilité", "Traceability"),
    "transparency_of_training": ("Transparence de l’entraînement", "Transparency of training"),
    "auditability_of_bias": ("Auditabilité des biais", "Auditability of bias"),
    "technical_documentation": ("Documentation technique", "Technical documentation"),
}
KINDS = frozenset({"ml_model", "rule_based"})
ML, RULES, BOTH = frozenset({"ml_model"}), frozenset({"rule_based"}), KINDS
NONE: frozenset[str] = frozenset()
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Item(NamedTuple):
    """One row of the baseline: where to look, for which kinds it counts and when it blocks publication."""

    pillar: str
    id: str
    path: str  # dotted path into the document (card, algorithm, version, artifacts, audits)
    mandatory: frozenset[str]  # algorithm kinds for which publication requires it
    label: tuple[str, str]  # (fr, en)
    missing: tuple[str, str]  # (fr, en) sentence shown when it is not satisfied
    check: str = "present"  # name in CHECKS
    kinds: frozenset[str] = BOTH  # kinds for which the item is listed at all
    when: str | None = None  # name in CONDITIONS: the item is listed only when it holds


def _metric_with_ci(doc: dict[str, Any], path: str) -> bool:
    return any(
        isinstance(m, dict) and all(isinstance(m.get(k), (int, float)) for k in ("value", "ci_low", "ci_high"))
        for m in _list(doc, path)
    )


def _sensitive_declared(doc: dict[str, Any], path: str) -> bool:
    attributes = _list(doc, path)
    return bool(attributes) and all(
        isinstance(a, dict) and docpath.filled(a.get("name")) and isinstance(a.get("used_as_input"), bool)
        for a in attributes
    )


def _digests(doc: dict[str, Any], path: str) -> bool:
    manifest = _list(doc, "artifacts.manifest")
    return (
        any(isinstance(v, str) and _SHA256.match(v) for v in docpath.resolve(doc, path))
        and bool(manifest)
        and all(isinstance(f, dict) and _SHA256.match(str(f.get("sha256", ""))) for f in manifest)
    )


def _bias_audit(doc: dict[str, Any], path: str) -> bool:
    # An audit marked not independent (its evaluator has joined the algorithm's side) does not count;
    # snapshots frozen before the mark existed were judged when published.
    return any(
        isinstance(a, dict) and a.get("kind") == "bias" and a.get("status") == "succeeded"
        and a.get("independent") is not False for a in _list(doc, path)
    )


def _list(doc: dict[str, Any], path: str) -> list[Any]:
    found = docpath.resolve(doc, path)
    return found[0] if found and isinstance(found[0], list) else []


CHECKS: dict[str, Callable[[dict[str, Any], str], bool]] = {
    "present": docpath.is_present,
    "metric_with_ci": _metric_with_ci,
    "sensitive_declared": _sensitive_declared,
    "digests": _digests,
    "bias_audit": _bias_audit,
}
CONDITIONS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "has_previous_version": lambda doc: docpath.is_present(doc, "version.previous_version"),
}

T, TT, B, D = PILLARS  # pillar ids, in order
ITEMS: tuple[Item, ...] = (
    Item(T, "name", "algorithm.name", BOTH, ("Nom de l’algorithme", "Algorithm name"),
         ("Donnez un nom à l’algorithme.", "Give the algorithm a name.")),
    Item(T, "version", "version.version", BOTH, ("Numéro de version", "Version number"),
         ("La version doit avoir un numéro.", "The version needs a version number.")),
    Item(T, "developers", "card.model_details.developers", BOTH, ("Auteurs", "Authors"),
         ("Indiquez les auteurs ou l’équipe qui ont développé l’algorithme.",
          "List the authors or the team who developed the algorithm.")),
    Item(T, "organisation", "algorithm.organisation", NONE, ("Organisme", "Organisation"),
         ("Rattachez l’algorithme à un organisme.", "Attach the algorithm to an organisation.")),
    Item(T, "contact", "card.model_details.contact", BOTH, ("Contact", "Contact"),
         ("Indiquez une adresse électronique de contact.", "Give a contact e-mail address.")),
    Item(T, "release_date", "card.model_details.release_date", NONE, ("Date de mise à disposition", "Release date"),
         ("Indiquez la date de mise à disposition de cette version.", "Give the release date of this version.")),
    Item(T, "code_repository", "algorithm.code_repository_url", RULES, ("Dépôt de code", "Code repository"),
         ("Indiquez l’adresse du dépôt de code public.", "Give the URL of the public code repository.")),
    Item(T, "code_commit", "algorithm.code_commit", RULES, ("Commit du code", "Code commit"),
         ("Indiquez le commit exact du code publié.", "Give the exact commit of the published code.")),
    Item(T, "artifact_digests", "artifacts.archive_sha256", ML, ("Empreintes des fichiers", "Artifact digests"),
         ("Le modèle doit être déposé : l’archive et chaque fichier ont une empreinte SHA-256.",
          "Upload the model: the archive and each of its files need a SHA-256 digest."), check="digests"),
    Item(T, "data_source", "card.training_data.source", BOTH, ("Source des données", "Data source"),
         ("Indiquez la source des données d’entraînement (SNDS, EDS, cohorte...).",
          "Give the source of the training data (SNDS, hospital data warehouse, cohort...).")),
    Item(T, "data_period_start", "card.training_data.period_start", BOTH,
         ("Début de la période des données", "Data period start"),
         ("Indiquez la date de début de la période couverte par les données.",
          "Give the start date of the period the data covers.")),
    Item(T, "data_period_end", "card.training_data.period_end", BOTH,
         ("Fin de la période des données", "Data period end"),
         ("Indiquez la date de fin de la période couverte par les données.",
          "Give the end date of the period the data covers.")),
    Item(T, "data_extraction", "card.training_data.extraction", NONE, ("Extraction des données", "Data extraction"),
         ("Décrivez comment les données ont été extraites.", "Describe how the data was extracted.")),
    Item(T, "change_summary", "card.model_details.change_summary", BOTH,
         ("Changements depuis la version précédente", "Changes since the previous version"),
         ("Résumez ce qui a changé depuis la version précédente.", "Summarise what changed since the previous version."),
         when="has_previous_version"),
    Item(TT, "training_description", "card.training_data.description", NONE,
         ("Description des données d’entraînement", "Training data description"),
         ("Décrivez les données d’entraînement et la population.", "Describe the training data and its population.")),
    Item(TT, "training_size", "card.training_data.size", BOTH, ("Effectif", "Sample size"),
         ("Indiquez le nombre d’individus des données d’entraînement.",
          "Give the number of individuals in the training data.")),
    Item(TT, "label_definition", "card.training_data.label_definition", BOTH,
         ("Définition de la cible", "Label definition"),
         ("Définissez la variable cible (l’événement prédit ou la population ciblée).",
          "Define the target (the predicted event or the identified population).")),
    Item(TT, "inclusion_criteria", "card.training_data.inclusion_criteria", NONE,
         ("Critères d’inclusion", "Inclusion criteria"),
         ("Décrivez les critères d’inclusion.", "Describe the inclusion criteria.")),
    Item(TT, "exclusion_criteria", "card.training_data.exclusion_criteria", NONE,
         ("Critères d’exclusion", "Exclusion criteria"),
         ("Décrivez les critères d’exclusion.", "Describe the exclusion criteria.")),
    Item(TT, "preprocessing", "card.training_data.preprocessing", NONE, ("Prétraitements", "Preprocessing"),
         ("Décrivez les prétraitements appliqués aux données.", "Describe the preprocessing applied to the data.")),
    Item(TT, "model_type", "card.model_details.model_type", ML, ("Type de modèle", "Model type"),
         ("Indiquez le type de modèle (régression logistique, forêt aléatoire...).",
          "Give the model type (logistic regression, random forest...)."), kinds=ML),
    Item(TT, "architecture", "card.model_details.architecture", NONE, ("Architecture", "Architecture"),
         ("Décrivez l’architecture du modèle.", "Describe the model architecture."), kinds=ML),
    Item(TT, "hyperparameters", "card.model_details.hyperparameters", NONE, ("Hyperparamètres", "Hyper-parameters"),
         ("Indiquez les hyperparamètres retenus.", "List the chosen hyper-parameters."), kinds=ML),
    Item(TT, "validation_type", "card.validation.type", NONE, ("Type de validation", "Validation type"),
         ("Précisez si la validation est interne, externe ou les deux.",
          "Say whether validation was internal, external or both.")),
    Item(TT, "validation_protocol", "card.validation.protocol", NONE, ("Protocole de validation", "Validation protocol"),
         ("Décrivez le protocole de validation.", "Describe the validation protocol.")),
    Item(TT, "performance_with_ci", "card.performance_metrics", BOTH,
         ("Performance avec intervalle de confiance", "Performance with confidence interval"),
         ("Donnez au moins une mesure de performance avec son intervalle de confiance.",
          "Report at least one performance measure with its confidence interval."), check="metric_with_ci"),
    Item(B, "sensitive_attributes", "card.sensitive_attributes", BOTH,
         ("Attributs sensibles déclarés", "Sensitive attributes declared"),
         ("Déclarez les attributs sensibles (sexe, âge, région, défavorisation...) et s’ils sont des entrées du modèle.",
          "Declare the sensitive attributes (sex, age, region, deprivation...) and whether each is a model input."),
         check="sensitive_declared"),
    Item(B, "bias_audit", "audits", ML, ("Audit de biais réalisé", "Completed bias audit"),
         ("Joignez au moins un audit de biais terminé, mené par un évaluateur indépendant de l’algorithme, sur un "
          "jeu de données de référence nommé.",
          "Attach at least one completed bias audit, by an evaluator independent of the algorithm, on a named "
          "reference dataset."), check="bias_audit"),
    Item(B, "subgroup_performance", "card.performance_metrics.*.subgroup", NONE,
         ("Performance par sous-groupe", "Performance by subgroup"),
         ("Donnez des mesures de performance par sous-groupe.", "Report performance measures by subgroup.")),
    Item(B, "representativeness", "card.training_data.representativeness", NONE,
         ("Représentativité des données", "Data representativeness"),
         ("Décrivez la représentativité des données pour les groupes concernés.",
          "Describe how representative the data is of the groups concerned.")),
    Item(B, "limitations", "card.limitations", BOTH, ("Limites connues", "Known limitations"),
         ("Décrivez les limites connues de l’algorithme.", "Describe the known limitations of the algorithm.")),
    Item(B, "bias_mitigations", "card.bias_mitigations", NONE, ("Mesures contre les biais", "Bias mitigations"),
         ("Décrivez les mesures prises contre les biais.", "Describe the measures taken against bias.")),
    Item(D, "primary_uses", "card.intended_use.primary_uses", BOTH, ("Usage prévu", "Intended use"),
         ("Décrivez l’usage prévu de l’algorithme.", "Describe the intended use of the algorithm.")),
    Item(D, "primary_users", "card.intended_use.primary_users", BOTH, ("Utilisateurs prévus", "Intended users"),
         ("Indiquez à quels utilisateurs l’algorithme est destiné.", "Say who the intended users are.")),
    Item(D, "decision_role", "card.intended_use.decision_role", BOTH, ("Rôle dans la décision", "Decision role"),
         ("Précisez si l’algorithme informe, complète ou remplace la décision.",
          "Say whether the algorithm informs, augments or replaces the decision.")),
    Item(D, "out_of_scope_uses", "card.intended_use.out_of_scope_uses", BOTH, ("Usages exclus", "Out-of-scope uses"),
         ("Décrivez les usages pour lesquels l’algorithme ne doit pas être employé.",
          "Describe the uses the algorithm must not be put to.")),
    Item(D, "population", "card.intended_population.description", BOTH, ("Population cible", "Intended population"),
         ("Décrivez la population à laquelle l’algorithme s’applique.",
          "Describe the population the algorithm applies to.")),
    Item(D, "setting", "card.intended_population.setting", BOTH, ("Contexte de soins", "Care setting"),
         ("Indiquez le contexte de soins prévu.", "Give the intended care setting.")),
    Item(D, "inputs", "card.input_output.inputs", BOTH, ("Spécification des entrées", "Input specification"),
         ("Décrivez les variables d’entrée (nom, type).", "Describe the input variables (name, type).")),
    Item(D, "output_description", "card.input_output.output_description", BOTH,
         ("Description de la sortie", "Output description"),
         ("Décrivez la sortie et comment l’interpréter.", "Describe the output and how to interpret it.")),
    Item(D, "dependencies", "card.dependencies.runtime", NONE, ("Dépendances logicielles", "Runtime dependencies"),
         ("Indiquez les dépendances logicielles et leurs versions.", "List the runtime dependencies and versions.")),
    Item(D, "license", "algorithm.license", BOTH, ("Licence", "License"),
         ("Choisissez une licence (identifiant SPDX).", "Choose a license (SPDX identifier).")),
    Item(D, "maintenance_schedule", "card.maintenance.schedule", BOTH,
         ("Calendrier de maintenance", "Maintenance schedule"),
         ("Indiquez le calendrier de maintenance et de mise à jour.", "Give the maintenance and update schedule.")),
    Item(D, "review_date", "card.maintenance.next_review", NONE, ("Date de prochaine revue", "Next review date"),
         ("Indiquez la date de la prochaine revue de la fiche : passé cette date, elle est signalée « à revoir ».",
          "Give the date of the card's next review: past that date, it is flagged \"to review\".")),
    Item(D, "human_oversight", "card.human_oversight", NONE, ("Contrôle humain", "Human oversight"),
         ("Décrivez les mesures de contrôle humain.", "Describe the human oversight measures.")),
)
BIAS_GATE_OFF = (
    "L’exigence d’un audit de biais avant publication est désactivée dans la configuration de ce registre.",
    "The bias-audit requirement for publication is disabled in this registry's configuration.",
)


@dataclass(frozen=True)
class BaselineReport:
    """The baseline verdict on one document, per pillar, as every reader and the publish gate see it."""

    kind: str
    require_bias_audit: bool
    pillars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def items(self) -> list[dict[str, Any]]:
        """Every listed item, pillar after pillar."""
        return [item for items in self.pillars.values() for item in items]

    @property
    def publishable(self) -> bool:
        """Whether every mandatory item is satisfied: the publish gate."""
        return not self.missing

    @property
    def missing(self) -> list[dict[str, Any]]:
        """The mandatory items not satisfied, with their paths and FR/EN sentences."""
        return [
            {"id": i["id"], "pillar": i["pillar"], "path": i["path"], "label": i["label"], "message": i["message"]}
            for i in self.items
            if i["mandatory"] and not i["satisfied"]
        ]

    @property
    def score(self) -> float:
        """Satisfied items over all listed items (mandatory and optional), 0 to 1."""
        return _score(self.items)

    def errors(self, lang: str = "en") -> dict[str, list[str]]:
        """Missing mandatory items as ``{path: [message]}``, the shape ValidationFailed carries."""
        return {m["path"]: [m["message"][lang]] for m in self.missing}

    def as_dict(self) -> dict[str, Any]:
        """JSON view: per pillar items and score, overall score, publishable, missing."""
        return {
            "kind": self.kind,
            "require_bias_audit": self.require_bias_audit,
            "publishable": self.publishable,
            "score": self.score,
            "pillars": {
                pillar: {"label": _pair(PILLARS[pillar]), "score": _score(items), "items": items}
                for pillar, items in self.pillars.items()
            },
            "missing": self.missing,
        }


def check(
    card: dict[str, Any], audits: list[dict[str, Any]], *, context: dict[str, Any], require_bias_audit: bool = True
) -> BaselineReport:
    """Evaluate every baseline item of the algorithm's kind against the card, its audits and its context."""
    document = {**context, "card": card or {}, "audits": audits or []}
    kind = (context.get("algorithm") or {}).get("kind")
    kind = kind if kind in KINDS else "ml_model"  # an unknown kind gets the stricter rules
    pillars: dict[str, list[dict[str, Any]]] = {pillar: [] for pillar in PILLARS}
    for item in ITEMS:
        if kind not in item.kinds or (item.when and not CONDITIONS[item.when](document)):
            continue
        satisfied = CHECKS[item.check](document, item.path)
        mandatory = kind in item.mandatory
        message = _pair(item.missing) if not satisfied else None
        if item.id == "bias_audit" and not require_bias_audit:
            mandatory = False
            message = _pair(BIAS_GATE_OFF) if satisfied else _join(item.missing, BIAS_GATE_OFF)
        pillars[item.pillar].append({
            "id": item.id, "pillar": item.pillar, "path": item.path, "mandatory": mandatory,
            "satisfied": satisfied, "label": _pair(item.label), "message": message,
        })
    return BaselineReport(kind=kind, require_bias_audit=require_bias_audit, pillars=pillars)


def _score(items: list[dict[str, Any]]) -> float:
    return round(sum(i["satisfied"] for i in items) / len(items), 4) if items else 1.0


def _pair(texts: tuple[str, str]) -> dict[str, str]:
    return {"fr": texts[0], "en": texts[1]}


def _join(first: tuple[str, str], second: tuple[str, str]) -> dict[str, str]:
    return {"fr": f"{first[0]} {second[0]}", "en": f"{first[1]} {second[1]}"}
