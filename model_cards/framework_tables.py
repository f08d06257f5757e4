"""Which document fields answer each item of the frameworks a BOAS card maps to (data only, read by frameworks.py).

A row is ``(id, title, paths, mode)``: covered when every path is filled (mode "all") or at least one is
(mode "any"); or ``(id, title, reason)`` for items that BOAS cannot hold by design (out of scope).
Paths use model_cards.docpath syntax and start at the document root (card., algorithm., version., ...).
"""

from __future__ import annotations

from typing import Any

Row = tuple[Any, ...]


def all_of(id_: str, title: str, *paths: str) -> Row:
    """An item covered when every path is filled."""
    return (id_, title, paths, "all")


def any_of(id_: str, title: str, *paths: str) -> Row:
    """An item covered when one of several paths is filled (alternative places for the same fact)."""
    return (id_, title, paths, "any")


def out_of_scope(id_: str, title: str, reason: str) -> Row:
    """An item BOAS does not hold by design, with the reason shown to readers."""
    return (id_, title, reason)


BIAS_AUDIT = "audits[kind=bias][status=succeeded]"
EXTERNAL = "card.validation[type=external|both]"
CI = "card.performance_metrics.*.ci_low"
SUBGROUP = "card.performance_metrics.*.subgroup"

MITCHELL = (
    all_of("model_details", "Model details", "card.model_details.model_type", "card.model_details.developers",
           "card.model_details.release_date"),
    all_of("intended_use", "Intended use", "card.intended_use.primary_uses", "card.intended_use.primary_users",
           "card.intended_use.out_of_scope_uses"),
    all_of("factors", "Factors", "card.sensitive_attributes"),
    all_of("metrics", "Metrics", CI, "card.validation.metrics_rationale"),
    all_of("evaluation_data", "Evaluation data", "card.validation.dataset"),
    all_of("training_data", "Training data", "card.training_data.description"),
    any_of("quantitative_analyses", "Quantitative analyses (disaggregated)", SUBGROUP, BIAS_AUDIT),
    all_of("ethical_considerations", "Ethical considerations", "card.ethical_considerations"),
    all_of("caveats_recommendations", "Caveats and recommendations", "card.caveats_recommendations"),
)

EU_AI_ACT_ANNEX_IV = (
    all_of("1a", "Intended purpose, provider, version and relation to previous versions",
           "card.intended_use.primary_uses", "card.model_details.developers", "version.version"),
    all_of("1b", "Interaction with hardware or software outside the system", "card.dependencies.runtime"),
    all_of("1c", "Versions of relevant software and update requirements", "card.dependencies.runtime",
           "card.maintenance.update_policy"),
    any_of("1d", "Forms in which the system is placed on the market", "artifacts.kind", "algorithm.code_repository_url"),
    all_of("1e", "Hardware on which the system is intended to run", "card.dependencies.hardware"),
    out_of_scope("1f", "Photographs or illustrations of products embedding the system",
                 "BOAS registers software algorithms, not physical products"),
    out_of_scope("1g", "User interface provided to the deployer",
                 "BOAS distributes the model; the user interface belongs to the system that embeds it"),
    all_of("1h", "Instructions for use for the deployer", "card.intended_use.instructions"),
    all_of("2a", "Development methods and steps, third-party tools", "card.model_details.model_type",
           "card.training_data.preprocessing"),
    all_of("2b", "Design specifications: logic, key choices, expected output", "card.model_details.architecture",
           "card.input_output.output_description", "card.intended_population.description"),
    all_of("2c", "System architecture and computational resources", "card.model_details.architecture",
           "card.dependencies.hardware"),
    all_of("2d", "Data requirements and datasheets: provenance, selection, labelling, cleaning",
           "card.training_data.description", "card.training_data.source", "card.training_data.extraction",
           "card.training_data.label_definition", "card.training_data.preprocessing"),
    all_of("2e", "Assessment of human oversight measures (Art. 14)", "card.human_oversight"),
    all_of("2f", "Pre-determined changes and continuous compliance", "card.maintenance.update_policy"),
    all_of("2g", "Validation and testing: data, accuracy, robustness, discriminatory impacts",
           "card.validation.protocol", CI, BIAS_AUDIT),
    all_of("2h", "Cybersecurity measures", "card.security"),
    all_of("3", "Monitoring, functioning and control: capabilities, limitations, groups, input specifications",
           "card.limitations", SUBGROUP, "card.human_oversight", "card.input_output.inputs"),
    all_of("4", "Appropriateness of the performance metrics", "card.validation.metrics_rationale"),
    all_of("5", "Risk management system (Art. 9)", "card.risk_management"),
    any_of("6", "Relevant changes through the lifecycle", "card.model_details.change_summary",
           "card.maintenance.update_policy"),
    all_of("7", "Harmonised standards applied", "card.regulatory.standards"),
    out_of_scope("8", "EU declaration of conformity (Art. 47)",
                 "the declaration of conformity is drawn up by the provider and issued outside BOAS"),
    all_of("9", "Post-market monitoring plan (Art. 72)", "card.maintenance.monitoring"),
)

EU_AI_ACT_ART_13_3 = (
    all_of("a", "Identity and contact details of the provider", "card.model_details.developers",
           "card.model_details.contact"),
    all_of("b.i", "Intended purpose", "card.intended_use.primary_uses"),
    all_of("b.ii", "Level of accuracy and its metrics", CI),
    any_of("b.iii", "Known or foreseeable circumstances leading to risks", "card.risk_management", "card.limitations"),
    all_of("b.iv", "Capabilities to explain the output", "card.input_output.output_description"),
    all_of("b.v", "Performance on specific persons or groups", SUBGROUP),
    all_of("b.vi", "Input data specifications, training, validation and testing data", "card.input_output.inputs",
           "card.training_data.description"),
    all_of("b.vii", "Information to interpret the output", "card.input_output.output_description",
           "card.caveats_recommendations"),
    all_of("c", "Pre-determined changes", "card.maintenance.update_policy"),
    all_of("d", "Human oversight measures", "card.human_oversight"),
    all_of("e", "Computational resources, expected lifetime, maintenance", "card.dependencies.hardware",
           "card.maintenance.expected_lifetime", "card.maintenance.schedule"),
    out_of_scope("f", "Mechanisms to collect, store and interpret logs (Art. 12)",
                 "logging is built into the deploying system; BOAS distributes the model itself"),
)

EU_AI_ACT_ART_10 = (
    all_of("2a", "Relevant design choices", "card.model_details.architecture"),
    all_of("2b", "Data collection processes and origin", "card.training_data.source", "card.training_data.extraction"),
    all_of("2c", "Data preparation: annotation, labelling, cleaning", "card.training_data.preprocessing",
           "card.training_data.label_definition"),
    all_of("2d", "Assumptions about what the data measure and represent", "card.training_data.description"),
    all_of("2e", "Availability, quantity and suitability of the data", "card.training_data.size",
           "card.training_data.description"),
    all_of("2f", "Examination for possible biases", "card.sensitive_attributes", BIAS_AUDIT),
    all_of("2g", "Measures to detect, prevent and mitigate biases", "card.bias_mitigations"),
    any_of("2h", "Data gaps or shortcomings and how they are addressed", "card.training_data.missing_data",
           "card.limitations"),
    all_of("3", "Representativeness for the persons or groups concerned", "card.training_data.representativeness"),
)

HTI1_GROUPS: tuple[tuple[str, str, tuple[Row, ...]], ...] = (
    ("details_output", "Details and output of the intervention", (
        all_of("developer", "Name and contact information of the developer", "card.model_details.developers",
               "card.model_details.contact"),
        all_of("funding", "Funding source of the development", "card.funding"),
        all_of("output_value", "Description of the value produced as output", "card.input_output.output_description"),
        all_of("output_type", "Output type (prediction, classification, recommendation...)",
               "card.input_output.output_type"),
    )),
    ("purpose", "Purpose of the intervention", (
        all_of("intended_use", "Intended use", "card.intended_use.primary_uses"),
        all_of("patient_population", "Intended patient population(s)", "card.intended_population.description"),
        all_of("intended_users", "Intended user(s)", "card.intended_use.primary_users"),
        all_of("decision_role", "Intended decision-making role (informs, augments, replaces)",
               "card.intended_use.decision_role"),
    )),
    ("out_of_scope_use", "Cautioned out-of-scope use", (
        all_of("cautioned_uses", "Tasks, situations or populations the user is cautioned against",
               "card.intended_use.out_of_scope_uses"),
        all_of("known_risks", "Known risks, inappropriate settings or uses, known limitations", "card.limitations"),
    )),
    ("development", "Development details and input features", (
        all_of("inclusion_exclusion", "Inclusion and exclusion criteria of the training data",
               "card.training_data.inclusion_criteria", "card.training_data.exclusion_criteria"),
        all_of("demographic_inputs", "Use of demographic and social variables as input features",
               "card.sensitive_attributes.*.used_as_input"),
        all_of("demographic_representativeness", "Demographic representativeness of the training data",
               "card.training_data.representativeness"),
        all_of("deployment_relevance", "Relevance of training data to the intended deployed setting",
               "card.training_data.description", "card.intended_population.setting"),
    )),
    ("fairness", "Process used to ensure fairness", (
        all_of("fairness_approach", "Approach taken to ensure the output is fair", "card.sensitive_attributes",
               BIAS_AUDIT),
        all_of("bias_management", "Approaches to manage, reduce or eliminate bias", "card.bias_mitigations"),
    )),
    ("external_validation", "External validation process", (
        all_of("data_source_setting", "Data source, clinical setting or environment of external validation",
               f"{EXTERNAL}.dataset"),
        all_of("tester", "Party that conducted the external testing", f"{EXTERNAL}.performed_by"),
        all_of("external_representativeness", "Demographic representativeness of the external data",
               f"{EXTERNAL}.representativeness"),
        all_of("validation_process", "Description of the external validation process", f"{EXTERNAL}.protocol"),
    )),
    ("quantitative_performance", "Quantitative measures of performance", (
        all_of("internal_validity", "Validity in test data from the same source as training",
               "card.performance_metrics[evaluation_data=same_source].value"),
        any_of("internal_fairness", "Fairness in test data from the same source as training",
               "card.performance_metrics[evaluation_data=same_source].subgroup", BIAS_AUDIT),
        all_of("external_validity", "Validity in external data",
               "card.performance_metrics[evaluation_data=external].value"),
        all_of("external_fairness", "Fairness in external data",
               "card.performance_metrics[evaluation_data=external].subgroup"),
        all_of("outcome_evaluation", "References to evaluations of the intervention on outcomes",
               "card.references[kind=outcome_evaluation]"),
    )),
    ("ongoing_maintenance", "Ongoing maintenance of implementation and use", (
        all_of("validity_monitoring", "Process and frequency of validity monitoring", "card.maintenance.monitoring",
               "card.maintenance.schedule"),
        all_of("local_validity", "Validity in local data", "card.performance_metrics[evaluation_data=local].value"),
        all_of("fairness_monitoring", "Process and frequency of fairness monitoring",
               "card.maintenance.fairness_monitoring"),
        all_of("local_fairness", "Fairness in local data",
               "card.performance_metrics[evaluation_data=local].subgroup"),
    )),
    ("update_schedule", "Update and continued validation or fairness assessment schedule", (
        all_of("update_process", "Process and frequency of updates", "card.maintenance.update_policy",
               "card.maintenance.schedule"),
        all_of("correction_frequency", "How often performance is corrected when validity or fairness risks appear",
               "card.maintenance.update_policy"),
    )),
)

TRIPOD_AI = (
    all_of("1", "Title", "algorithm.name"),
    all_of("2", "Abstract", "algorithm.summary"),
    all_of("3", "Background: healthcare context, target population, health inequalities", "algorithm.description",
           "card.intended_population.description", "card.sensitive_attributes.*.rationale"),
    all_of("4", "Objectives", "card.intended_use.primary_uses"),
    all_of("5", "Data sources and dates", "card.training_data.source", "card.training_data.period_start",
           "card.training_data.period_end"),
    all_of("6", "Participants: setting and eligibility", "card.intended_population.setting",
           "card.training_data.inclusion_criteria", "card.training_data.exclusion_criteria"),
    all_of("7", "Data preparation", "card.training_data.preprocessing"),
    all_of("8", "Outcome", "card.training_data.label_definition"),
    all_of("9", "Predictors", "card.input_output.inputs"),
    all_of("10", "Sample size", "card.training_data.size"),
    all_of("11", "Missing data", "card.training_data.missing_data"),
    all_of("12", "Analytical methods", "card.model_details.model_type", "card.model_details.architecture",
           "card.validation.protocol"),
    all_of("13", "Class imbalance", "card.training_data.class_imbalance"),
    all_of("14", "Fairness", "card.sensitive_attributes", "card.bias_mitigations"),
    all_of("15", "Model output", "card.input_output.output_description"),
    all_of("16", "Training versus evaluation", "card.validation.type", "card.validation.dataset",
           "card.validation.performed_by"),
    all_of("17", "Ethical approval", "card.ethical_considerations"),
    all_of("18", "Open science: funding, conflicts of interest, code availability", "card.funding",
           "card.conflicts_of_interest", "algorithm.code_repository_url"),
    all_of("19", "Patient and public involvement", "card.patient_public_involvement"),
    all_of("20", "Participants (results)", "card.training_data.size", "card.training_data.representativeness"),
    all_of("21", "Model development", "card.training_data.size", "card.model_details.hyperparameters"),
    any_of("22", "Model specification (full model available)", "artifacts.archive_sha256",
           "algorithm.code_repository_url"),
    all_of("23", "Model performance (with CIs, by subgroup)", CI, SUBGROUP),
    all_of("24", "Model updating", "card.maintenance.update_policy"),
    all_of("25", "Interpretation", "card.caveats_recommendations"),
    all_of("26", "Limitations", "card.limitations"),
    all_of("27", "Usability in the context of current care", "card.intended_use.primary_users", "card.human_oversight"),
)

CHAI_SECTIONS: tuple[tuple[str, str, tuple[Row, ...]], ...] = (
    ("basic_info", "Basic information", (
        all_of("model_name", "Model name", "algorithm.name"),
        all_of("model_developer", "Model developer", "card.model_details.developers"),
        all_of("developer_contact", "Developer contact", "card.model_details.contact"),
    )),
    ("release_info", "Release information", (
        all_of("release_stage", "Release stage", "version.state"),
        any_of("release_date", "Release date", "card.model_details.release_date", "version.published_at"),
        all_of("release_version", "Release version", "version.version"),
        all_of("global_availability", "Global availability", "version.url"),
        all_of("regulatory_approval", "Regulatory approval", "card.regulatory.status"),
    )),
    ("summary", "Model summary", (
        all_of("summary", "Summary", "algorithm.summary"),
        any_of("keywords", "Keywords", "card.keywords", "algorithm.clinical_domain"),
    )),
    ("uses_and_directions", "Uses and directions", (
        all_of("intended_use", "Intended use and workflow", "card.intended_use.primary_uses"),
        all_of("primary_users", "Primary intended users", "card.intended_use.primary_users"),
        all_of("how_to_use", "How to use", "card.intended_use.instructions"),
        all_of("target_population", "Targeted patient population", "card.intended_population.description"),
        all_of("out_of_scope", "Cautioned out-of-scope settings and use cases", "card.intended_use.out_of_scope_uses"),
    )),
    ("warnings", "Warnings", (
        all_of("risks_limitations", "Known risks and limitations", "card.limitations"),
        all_of("biases_ethics", "Known biases or ethical considerations", "card.ethical_considerations"),
        all_of("clinical_risk_level", "Clinical risk level", "card.regulatory.risk_class"),
    )),
    ("trust_ingredients", "Trust ingredients", (
        all_of("outcomes_outputs", "Outcomes and outputs", "card.input_output.output_description"),
        all_of("model_type", "Model type", "card.model_details.model_type"),
        out_of_scope("foundation_models", "Foundation models",
                     "BOAS registers tabular models and rule-based code; pretrained components, if any, are "
                     "described under model_details.architecture"),
        all_of("input_data_source", "Input data source", "card.training_data.source"),
        all_of("data_types", "Output and input data types", "card.input_output.inputs", "card.input_output.output_type"),
        all_of("development_data", "Development data characterization", "card.training_data.description",
               "card.training_data.representativeness"),
        all_of("bias_mitigation", "Bias mitigation approaches", "card.bias_mitigations"),
        all_of("ongoing_maintenance", "Ongoing maintenance", "card.maintenance.monitoring"),
        all_of("security", "Security and compliance", "card.security"),
        any_of("transparency", "Transparency, intelligibility and accountability mechanisms", "card.human_oversight",
               "algorithm.code_repository_url"),
        all_of("funding", "Funding source", "card.funding"),
        all_of("third_party", "Third-party information", "card.conflicts_of_interest"),
        all_of("stakeholders", "Stakeholders consulted", "card.patient_public_involvement"),
    )),
    ("key_metrics", "Key metrics (estimate with confidence interval)", (
        all_of("usefulness", "Usefulness, usability and efficacy", CI),
        any_of("fairness", "Fairness and equity", SUBGROUP, BIAS_AUDIT),
        all_of("safety", "Safety and reliability", "card.performance_metrics[category=safety].value"),
    )),
    ("resources", "Resources", (
        any_of("evaluation_references", "Evaluation references", "card.validation.publication_doi",
               "card.validation.publication_url", "card.references[kind=validation_study]"),
        all_of("clinical_trial", "Clinical trial", "card.references[kind=clinical_trial]"),
        all_of("publications", "Peer-reviewed publications", "card.references[kind=publication|validation_study]"),
        out_of_scope("reimbursement", "Reimbursement status",
                     "reimbursement is decided by health insurance bodies (HAS, CNAM), outside BOAS"),
        all_of("patient_consent", "Patient consent or disclosure", "card.ethical_considerations"),
        all_of("bibliography", "Bibliography", "card.references"),
    )),
)
