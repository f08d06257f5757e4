"""Free text (a request's message, a decline's reason) screened by the strong identifier detectors."""

from __future__ import annotations

import pytest

from audits.identifiers import describe, screen_message


@pytest.mark.parametrize(("text", "detector"), [
    ("Le patient 1 85 05 78 006 084 36 est exclu.", "nir"),
    ("écrire à jean.dupont@chu-exemple.fr", "email"),
    ("appelez le 06 12 34 56 78 demain", "phone"),
    ("IBAN FR76 3000 6000 0112 3456 7890 189", "iban"),
    ("il habite 12 rue de la Paix", "postal_address"),
])
def test_an_identifier_in_a_message_is_found_and_named(text, detector):
    found = screen_message(text, field="message")
    assert detector in {f.detector for f in found}
    message = describe(found)["message"]
    assert f"[{detector}" in message or f", {detector}" in message
    assert text not in message  # the message names the detector, never repeats the value


@pytest.mark.parametrize("text", [
    "", "Merci de regarder la version 2.0 chez les femmes de plus de 65 ans.",
    "AUC 0,73 sur 10000 séjours du 2024-01-01 au 2024-12-31 ; seuil 0.5",
])
def test_ordinary_messages_pass(text):
    assert screen_message(text) == []
