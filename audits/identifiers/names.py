"""Column names that name an identifier, in French and English, however they are written.

A name is folded (NFKC, invisible characters dropped, Cyrillic and Greek look-alike letters mapped
to Latin, accents removed), camelCase and digits are split, and the words are matched against a
dictionary of identifying names. Ambiguous words count only when nothing else in the name says they
are about something other than a person: ``region_name``, ``nom_commune``, ``annee_naissance``,
``poids_naissance``, ``ins_cardiaque`` and ``code_insee`` pass; ``name``, ``nom_patient``,
``NomNaissance`` and ``patient_id`` do not. Used by ``audits.identifiers``; pure computation.
"""

from __future__ import annotations

import re
import unicodedata

# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

# Latin look-alikes an attacker may type instead of Latin letters (Unicode "confusables", the
# subset that matters for names and digits). NFKC already maps full-width, mathematical and
# circled letters and digits.
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "і": "i", "ї": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h",
    "ɡ": "g", "ı": "i", "ȷ": "j",
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "З": "3", "І": "I", "Ї": "I", "Ј": "J", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "Ԁ": "D",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X",
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l",
    "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y",
    "ᴢ": "z", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE", "œ": "oe",
    "Œ": "OE", "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "‐": "-", "‑": "-", "‒": "-", "–": "-",
    "—": "-", "−": "-", "⁄": "/", "∕": "/",
})  # fmt: skip
# Characters that render as nothing; Unicode category Cf (format) is dropped as well.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
_NON_ASCII_DIGIT = re.compile(r"[^\x00-\x7f]")


def fold(text: str) -> str:
    """NFKC, invisible characters dropped, look-alike letters mapped to Latin, accents removed; case kept."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)
    kept = []
    for ch in unicodedata.normalize("NFD", text):
        category = unicodedata.category(ch)
        if category in ("Mn", "Me", "Cf") or ch in _INVISIBLE:
            continue
        if category == "Nd" and not ch.isascii():  # Arabic-Indic, Devanagari, ... digits
            ch = str(unicodedata.digit(ch))
        elif category.startswith("Z") or ch in "\t\r\n\v\f":
            ch = " "
        kept.append(ch)
    return "".join(kept)


_SPACES = re.compile(r"\s+")
_CAMEL = (re.compile(r"(?<=[a-z])(?=[A-Z])"), re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])"),
          re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])"))


def name_tokens(name: object) -> list[str]:
    """A column name as lower-case ASCII words: ``"NomNaissance "`` -> ``["nom", "naissance"]``."""
    text = fold(str(name))
    for pattern in _CAMEL:
        text = pattern.sub(" ", text)
    words = re.findall(r"[a-z0-9]+", text.casefold())
    return join_spelled_out(words)


def join_spelled_out(words: list[str]) -> list[str]:
    """Runs of three or more single letters are one word: "n_o_m" and "D.D.N." are "nom" and "ddn"."""
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        joined += ["".join(run)] if len(run) >= 3 else run
        run = []
        if word:
            joined.append(word)
    return joined


# ---------------------------------------------------------------------------------------------
# Column names
# ---------------------------------------------------------------------------------------------

_STOPWORDS = frozenset({"de", "d", "du", "des", "la", "le", "l", "les", "of", "the", "a", "en", "et", "and"})

# Phrases (sequences of words, stop words removed) that always name an identifier.
_PHRASES: tuple[str, ...] = (
    # names
    "prenom", "prenoms", "first name", "firstname", "fname", "given name", "givenname", "forename", "forenames",
    "middle name", "last name", "lastname", "lname", "surname", "family name", "familyname", "full name",
    "fullname", "maiden name", "nom naissance", "nom usage", "nom jeune fille", "nom marital", "nom epouse",
    "nom patronymique", "patronyme", "nom famille", "nom complet", "surnom", "initiales", "initials",
    # contact
    "email", "emails", "mail", "courriel", "adresse electronique", "adresse mel", "telephone", "tel", "phone",
    "phones", "gsm", "fax", "cellphone", "coordonnees", "username", "login",
    # address
    "adresse", "adresses", "address", "addresses", "rue", "street", "code postal", "codepostal", "zip", "zipcode",
    "postcode", "postal code", "nom voie", "type voie", "numero voie", "num voie", "libelle voie", "lieu dit",
    "latitude", "longitude", "gps", "geolocalisation", "geolocation",
    # national and other official numbers
    "nir", "nss", "ssn", "securite sociale", "social security", "secu", "numsecu", "nia", "matricule",
    "immatriculation", "carte vitale", "vitale", "passeport", "passport", "cni", "carte identite", "id card",
    "permis conduire", "driving licence", "driver license", "nhs number", "rpps", "adeli",
    # hospital identifiers
    "ipp", "nip", "mrn", "nda", "medical record", "numero dossier", "num dossier", "dossier patient",
    # birth
    "ddn", "dob", "birthdate", "birthday", "dateofbirth", "datenaissance",
    # bank
    "iban", "rib", "bic", "carte bancaire", "credit card",
)
_PHRASE_TOKENS = tuple(tuple(p.split()) for p in _PHRASES)
# Searched inside single words written without separators ("DATENAISSANCE", "prenompatient").
_COMPACT = (
    "prenom", "firstname", "lastname", "surname", "givenname", "familyname", "fullname", "maidenname",
    "nomnaissance", "nomdenaissance", "nomusage", "nomdusage", "nomjeunefille", "datenaissance",
    "datedenaissance", "datenais", "dtnaiss", "birthdate", "dateofbirth", "birthday", "lieunaissance",
    "lieudenaissance", "placeofbirth", "email", "courriel", "telephone", "phonenumber", "mobilephone",
    "cellphone", "homephone", "numtel", "notel", "telfixe", "telport", "telmob", "teldom", "telpro", "adresse", "address", "codepostal", "zipcode", "postalcode", "postcode",
    "securitesociale", "socialsecurity", "numsecu", "numerosecu", "matriculeins", "numeropatient", "numpatient",
    "patientid", "idpatient", "patientnumber", "patientname", "nompatient", "numerodossier", "numdossier",
    "medicalrecord", "cartevitale", "passeport", "passport", "username",
)

# Words that make "nom"/"name" about something other than a person ("region_name", "nom_commune").
NOT_A_PERSON = frozenset({
    "region", "regions", "departement", "dept", "dep", "commune", "ville", "city", "town", "country", "pays",
    "etablissement", "etab", "hopital", "hospital", "clinique", "service", "unit", "unite", "ward", "drug",
    "medicament", "molecule", "substance", "specialite", "specialty", "product", "produit", "model", "modele",
    "algorithm", "algorithme", "file", "fichier", "feature", "variable", "column", "colonne", "acte", "diagnostic",
    "diagnosis", "disease", "maladie", "pathologie", "condition", "category", "categorie", "group", "groupe",
    "class", "classe", "label", "libelle", "study", "etude", "site", "centre", "center", "test", "examen", "exam",
    "code", "atc", "cim", "icd", "ccam", "ghm", "finess", "organisation", "organization", "org", "laboratoire",
    "lab", "payer", "regime", "caisse", "dataset", "indicateur", "indicator", "pole", "territoire", "zone",
    "area", "district", "iris", "canton", "arrondissement", "protocol", "protocole", "trial", "essai", "gene",
    "event", "evenement", "source", "metric", "metrique", "score", "scale", "echelle",
})
_PATIENT_ID_WORDS = frozenset({
    "patient", "patients", "pat", "id", "ident", "identifiant", "identifier", "num", "numero", "no", "nr", "n",
    "number", "ref", "reference", "code", "key", "cle", "ipp", "nip",
})
_BIRTH_WORDS = frozenset({"naissance", "naissances", "nais", "naiss", "birth", "births"})
_BIRTH_COARSE = frozenset({  # what may be said about a birth without giving its date or place
    "annee", "an", "year", "yyyy", "aaaa", "mois", "month", "poids", "weight", "terme", "term", "rang", "order",
    "rank", "pays", "country", "age", "taille", "height", "length", "trimestre", "quarter", "semestre", "decade",
    "decennie", "cohorte", "cohort", "gemellaire", "multiple", "type", "mode", "voie", "presentation",
})
_BIRTH_EXACT = frozenset({
    "date", "dt", "jour", "day", "dte", "full", "exact", "complete", "lieu", "place", "commune", "ville", "city",
    "town", "nom", "name",
})


# A name that says its column was pseudonymised ("BEN_NIR_PSA", the SNDS pseudonymised NIR;
# "ipp_hash") is judged on its values alone: they are screened like every column's.
_PSEUDONYMISED = frozenset({
    "psa", "pseudo", "pseudonyme", "pseudonymise", "pseudonymised", "pseudonymized", "pseudonymisation",
    "anonyme", "anonymise", "anonymised", "anonymized", "ano", "hash", "hashed", "hache", "chiffre", "crypte",
    "encrypted", "sha", "sha256", "hmac", "token",
})


def column_name_term(name: object) -> str | None:
    """The dictionary entry an (un-normalised) column name matches, or None when it names no identifier."""
    tokens = name_tokens(name)
    words = [t for t in tokens if t not in _STOPWORDS and not t.isdigit()]
    if not words or _PSEUDONYMISED & set(tokens):
        return None
    referred = "par" in words  # "adressé par": referred by (a doctor), not an address
    for phrase in _PHRASE_TOKENS:
        if contains_phrase(words, phrase) and not (referred and phrase[0] == "adresse"):
            return " ".join(phrase)
    for word in words:
        if len(word) > 4:
            for compact in _COMPACT:
                if compact in word and not (referred and word == compact == "adresse"):
                    return compact
    present = set(words)
    if present & {"nom", "noms", "name", "names"} and not present & NOT_A_PERSON:
        return "nom" if present & {"nom", "noms"} else "name"
    if present & {"patient", "patients"} and present <= _PATIENT_ID_WORDS:
        return "patient identifier"
    if present & _BIRTH_WORDS and (present & _BIRTH_EXACT or not present & _BIRTH_COARSE):
        return "naissance" if present & {"naissance", "naissances", "nais", "naiss"} else "birth"
    conditional = (
        ("ins", {"ins", "matricule", "num", "numero", "no", "nir", "nia", "code", "id", "identifiant", "patient",
                 "oid", "qualifie", "nt", "c"}),
        ("dossier", {"dossier", "num", "numero", "no", "id", "patient", "medical", "medicale", "hospitalier",
                     "administratif", "ref", "number"}),
        ("given", {"given", "name", "names", "patient"}),
        ("family", {"family", "name", "names", "patient"}),
        ("mobile", {"mobile", "portable", "num", "numero", "no", "number", "patient", "perso", "personnel",
                    "contact"}),
        ("portable", {"mobile", "portable", "num", "numero", "no", "number", "patient", "perso", "personnel",
                      "contact"}),
        ("cp", {"cp", "code", "patient", "domicile", "residence"}),
        ("ip", {"ip", "patient", "client"}),
        ("lat", {"lat", "lon", "lng", "long", "patient", "domicile"}),
        ("lon", {"lat", "lon", "lng", "long", "patient", "domicile"}),
        ("lng", {"lat", "lon", "lng", "long", "patient", "domicile"}),
        ("mel", {"mel", "patient"}),
    )
    for word, allowed in conditional:
        if word in present and present <= allowed:
            return word
    if "insee" in present and present & {"num", "numero", "no", "nir", "matricule", "secu", "patient", "personne",
                                         "individu", "beneficiaire"}:
        return "numero insee"
    if present & {"identite", "identity"} and not present & {"genre", "gender", "sexuelle", "sexual", "sexe"}:
        return "identite"
    return None


def contains_phrase(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i:i + n]) == phrase for i in range(len(words) - n + 1))
