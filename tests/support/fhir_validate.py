#!/usr/bin/env python3
"""A FHIR R4 and Da Vinci CRD validator for the tests of `medpol serve` (tests/crd.rs).

Reads JSON documents, one per line on standard input or one per file named as an argument,
and writes one JSON line per document: {"ok": true} or {"ok": false, "errors": ["..."]}.
A document is either

- a FHIR R4 resource (a Questionnaire, a QuestionnaireResponse, an OperationOutcome, ...):
  it is built with the `fhir.resources` models (6.4.0, FHIR 4.0.1), which check its elements,
  their types and cardinalities, and every Da Vinci CRD coverage-information extension in it
  is checked as below; or
- a CDS Hooks 2.0 response, {"cards": [...], "systemActions": [...]}: its shape (cards,
  suggestions, links, actions), every resource of an action built with `fhir.resources`, and
  every coverage-information extension checked against CRD STU 2.2.1's definition
  (input/fsh/extensions/CoverageInformation.fsh at the tag 2.2.1 of HL7/davinci-crd): the
  sub-extensions' cardinalities and value types, the required value sets, no unknown
  sub-extension, the resource types it may be on, and the invariants crd-ci-q1 to q9.

The exit status is 0 whatever the documents hold; it is 2 when the script cannot run (the
`fhir.resources` package missing or of another FHIR version). `--check-install` only checks
that, printing the package's version: the tests run it to decide whether to skip.

The packages: `fhir.resources==6.4.0` with `pydantic==1.10.27` (6.4.0 is written for
pydantic 1 and does not import with pydantic 2); `.ci/run` installs them into
target/ci-tools/py.
"""

import json
import re
import sys

FHIR_VERSION = "4.0.1"

try:
    import fhir.resources as _fhir_resources
    from fhir.resources import construct_fhir_element
except Exception as error:  # ImportError, or pydantic 2's errors inside the package
    _fhir_resources = None
    _IMPORT_ERROR = f"{type(error).__name__}: {error}"
else:
    _IMPORT_ERROR = None

CI_URL = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"

# The resources the extension may be on (its ^context).
CI_CONTEXT = {
    "Appointment",
    "CommunicationRequest",
    "Encounter",
    "DeviceRequest",
    "MedicationRequest",
    "NutritionOrder",
    "QuestionnaireResponse",
    "ServiceRequest",
    "VisionPrescription",
}

# The required value sets (CoverageInformationValuesets.fsh; OTH is v3-NullFlavor's).
COVERED = {"covered", "not-covered", "conditional", "indeterminate"}
PA_NEEDED = {"no-auth", "auth-needed", "satisfied", "performpa", "conditional", "indeterminate"}
DOC_NEEDED = {"clinical", "admin", "patient", "conditional", "indeterminate"}
DOC_PURPOSE = {"withpa", "withclaim", "withorder", "retain-doc", "OTH"}
INFO_NEEDED = {"performer", "location", "timeframe", "contract-window", "detail-code", "OTH"}
DETAIL_CATEGORY = {"cat-limitation", "cat-decisional", "cat-other"}

# CRDCoverageAssertionReasons (valueset coverageAssertionReasons): the codes of CRD's temporary
# code system (codesystems/CRDTempCodes.fsh at 2.2.1).
ASSERTION_REASON_SYSTEM = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
ASSERTION_REASONS = {
    "gold-card",
    "no-member-found",
    "no-active-coverage",
    "coverage-not-found",
    "auth-out-network",
    "technical",
}

# Sub-extension url -> (min, max or None for *, the value[x] it takes, the codes allowed).
# `detail` has sub-extensions of its own instead of a value.
SUB_EXTENSIONS = {
    "coverage": (1, 1, "valueReference", None),
    "covered": (1, 1, "valueCode", COVERED),
    "pa-needed": (0, 1, "valueCode", PA_NEEDED),
    "doc-needed": (0, None, "valueCode", DOC_NEEDED),
    "doc-purpose": (0, None, "valueCode", DOC_PURPOSE),
    "info-needed": (0, None, "valueCode", INFO_NEEDED),
    "billingCode": (0, None, "valueCoding", None),
    "reason": (0, None, "valueCodeableConcept", None),
    "detail": (0, None, None, None),
    "dependency": (0, None, "valueReference", None),
    "questionnaire": (0, None, "valueCanonical", None),
    "date": (1, 1, "valueDate", None),
    "coverage-assertion-id": (1, 1, "valueString", None),
    "satisfied-pa-id": (0, 1, "valueString", None),
    "contact": (0, None, "valueContactDetail", None),
    "expiry-date": (0, 1, "valueDate", None),
}

# detail's sub-extensions: url -> (min, max, the value[x] types allowed).
DETAIL_PARTS = {
    "category": (1, 1, {"valueCode"}),
    "code": (1, 1, {"valueCodeableConcept"}),
    "value": (1, 1, {"valueBoolean", "valueString", "valueUrl", "valueQuantity", "valuePeriod"}),
    "qualification": (0, 1, {"valueString"}),
}

# FHIR's date: YYYY, YYYY-MM or YYYY-MM-DD.
DATE = re.compile(r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def value_keys(element):
    return [k for k in element if k.startswith("value") and k != "value"]


# ------------------------------------------------------------------ FHIR resources


def check_resource(resource, where, errors):
    """Builds the resource with fhir.resources, then checks the CRD extensions in it."""
    if not isinstance(resource, dict):
        errors.append(f"{where}: a resource must be a JSON object")
        return
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        errors.append(f"{where}: no resourceType")
        return
    try:
        construct_fhir_element(kind, resource)
    except Exception as error:  # pydantic's ValidationError, or an unknown resourceType
        message = " ".join(str(error).split())
        errors.append(f"{where} ({kind}): not a valid FHIR R4 {kind}: {message}")
    check_extensions_in(resource, where, kind, errors)


def check_extensions_in(resource, where, kind, errors):
    """Every coverage-information extension in the resource: only on the resource itself (its
    root `extension`), only on the resource types of its context, each checked."""
    for index, extension in enumerate(resource.get("extension") or []):
        if isinstance(extension, dict) and extension.get("url") == CI_URL:
            place = f"{where}.extension[{index}]"
            if kind not in CI_CONTEXT:
                errors.append(
                    f"{place}: the coverage-information extension is not allowed on {kind}"
                )
            check_coverage_information(extension, place, errors)
    # Anywhere else in the resource (contained resources, elements) it is out of its context.
    stack = [(key, value, f"{where}.{key}") for key, value in resource.items() if key != "extension"]
    while stack:
        key, value, path = stack.pop()
        if isinstance(value, dict):
            if value.get("url") == CI_URL:
                errors.append(f"{path}: a coverage-information extension outside a resource's root")
            if "resourceType" in value and isinstance(value.get("resourceType"), str):
                check_extensions_in(value, path, value["resourceType"], errors)
                continue
            stack.extend((k, v, f"{path}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((key, v, f"{path}[{i}]") for i, v in enumerate(value))


# ------------------------------------------------------------------ coverage information


def check_coverage_information(extension, where, errors):
    # ext-1: an extension has sub-extensions or a value, not both.
    if value_keys(extension):
        errors.append(f"{where}: the coverage-information extension has a value; it takes sub-extensions only")
    parts = extension.get("extension")
    if not isinstance(parts, list) or not parts:
        errors.append(f"{where}: the coverage-information extension has no sub-extensions")
        return

    by_url = {url: [] for url in SUB_EXTENSIONS}
    for index, part in enumerate(parts):
        place = f"{where}.extension[{index}]"
        if not isinstance(part, dict):
            errors.append(f"{place}: a sub-extension must be an object")
            continue
        url = part.get("url")
        if url not in SUB_EXTENSIONS:
            errors.append(f"{place}: unknown sub-extension url {url!r}")
            continue
        by_url[url].append((place, part))

    # Cardinalities, value types and required value sets.
    for url, (low, high, value_type, codes) in SUB_EXTENSIONS.items():
        found = by_url[url]
        if len(found) < low:
            errors.append(f"{where}: '{url}' is required ({low}..{'*' if high is None else high}) and missing")
        if high is not None and len(found) > high:
            errors.append(f"{where}: '{url}' appears {len(found)} times, at most {high} allowed")
        for place, part in found:
            if url == "detail":
                check_detail(part, place, errors)
                continue
            if part.get("extension"):
                errors.append(f"{place}: '{url}' takes a value, not sub-extensions")
            keys = value_keys(part)
            if keys != [value_type]:
                errors.append(f"{place}: '{url}' must have exactly one {value_type}, has {keys or 'none'}")
                continue
            value = part[value_type]
            if codes is not None and value not in codes:
                errors.append(
                    f"{place}: '{url}' is {value!r}, not a code of its required value set "
                    f"({' | '.join(sorted(codes))})"
                )
            if value_type == "valueDate" and not (isinstance(value, str) and DATE.match(value)):
                errors.append(f"{place}: '{url}' is not a FHIR date: {value!r}")
            if value_type == "valueString" and not (isinstance(value, str) and value.strip()):
                errors.append(f"{place}: '{url}' must be a non-empty string")
            if url == "coverage" and isinstance(value, dict):
                reference = value.get("reference")
                if not (value.get("type") == "Coverage" or (isinstance(reference, str) and re.search(r"(^|/)Coverage/[^/]+", reference))):
                    errors.append(f"{place}: 'coverage' must refer to a Coverage, refers to {reference!r}")

    codes = {url: [part.get(SUB_EXTENSIONS[url][2]) for _, part in by_url[url]] for url in SUB_EXTENSIONS}
    covered = codes["covered"]
    pa_needed = codes["pa-needed"]
    doc_needed = codes["doc-needed"]
    doc_purpose = codes["doc-purpose"]
    info_needed = codes["info-needed"]
    reasons = [part.get("valueCodeableConcept") for _, part in by_url["reason"]]
    status_codes = covered + pa_needed + doc_needed

    # crd-ci-q1: "Questionnaire is only allowed when doc-needed exists".
    if by_url["questionnaire"] and not by_url["doc-needed"]:
        errors.append(f"{where}: crd-ci-q1: 'questionnaire' is only allowed when 'doc-needed' exists")
    # crd-ci-q2: "If covered is set to 'not-covered', then 'pa-needed' must not exist."
    if "not-covered" in covered and by_url["pa-needed"]:
        errors.append(f"{where}: crd-ci-q2: 'covered' is 'not-covered', so 'pa-needed' must not exist")
    # crd-ci-q3: "'info-needed' SHALL exist if and only if at least one of 'covered',
    # 'pa-needed', or 'doc-needed' is set to 'conditional'." The FHIRPath expression checks only
    # the "if"; this implements the description, both ways.
    conditional = "conditional" in status_codes
    if conditional and not by_url["info-needed"]:
        errors.append(f"{where}: crd-ci-q3: one of covered/pa-needed/doc-needed is 'conditional', so 'info-needed' must exist")
    if by_url["info-needed"] and not conditional:
        errors.append(f"{where}: crd-ci-q3: 'info-needed' exists but none of covered/pa-needed/doc-needed is 'conditional'")
    # crd-ci-q4: "If 'pa-needed' is 'satisfied', 'noauth', or 'not-covered', then 'Doc-purpose'
    # cannot be 'withpa'." The expression spells the code 'noauth'; the value set's code is
    # 'no-auth', which is what the description means, so 'no-auth' is checked here.
    # ('not-covered' is not a pa-needed code; it is kept as written and can never match a
    # valid pa-needed.)
    if any(code in ("satisfied", "no-auth", "not-covered") for code in pa_needed) and "withpa" in doc_purpose:
        errors.append(f"{where}: crd-ci-q4: 'pa-needed' is {pa_needed[0]!r}, so 'doc-purpose' cannot be 'withpa'")
    # crd-ci-q5: "'satisfied-pa-id' must exist if and only if 'pa-needed' is set to 'satisfied'."
    if ("satisfied" in pa_needed) != bool(by_url["satisfied-pa-id"]):
        errors.append(f"{where}: crd-ci-q5: 'satisfied-pa-id' must exist if and only if 'pa-needed' is 'satisfied'")
    # crd-ci-q6: "If 'info-needed' is OTH, then reason must be specified".
    if "OTH" in info_needed and not reasons:
        errors.append(f"{where}: crd-ci-q6: 'info-needed' is 'OTH', so 'reason' must exist")
    # crd-ci-q7: "If reason.coding is present and is not from the extensible value set, then
    # reason.text must be present": each reason has text, unless it has codings and all of
    # them are codes of CRDCoverageAssertionReasons.
    for (place, _), reason in zip(by_url["reason"], reasons):
        if not isinstance(reason, dict):
            continue
        text = reason.get("text")
        codings = reason.get("coding") or []
        from_value_set = bool(codings) and all(
            isinstance(c, dict) and c.get("system") == ASSERTION_REASON_SYSTEM and c.get("code") in ASSERTION_REASONS
            for c in codings
        )
        if not (isinstance(text, str) and text.strip()) and not from_value_set:
            errors.append(
                f"{place}: crd-ci-q7: a reason whose codings are not all from the CRD coverage "
                f"assertion reasons value set must have text"
            )
    # crd-ci-q8: "If doc-purpose is present with a value other than 'conditional', then reason
    # must be present". No doc-purpose code is 'conditional', so every doc-purpose needs a
    # reason, as the expression says.
    if any(code != "conditional" for code in doc_purpose) and not reasons:
        errors.append(f"{where}: crd-ci-q8: 'doc-purpose' is present, so 'reason' must exist")
    # crd-ci-q9: "If any of 'covered', 'pa-needed', or 'doc-needed' is set to 'indeterminate',
    # then reason must be present".
    if "indeterminate" in status_codes and not reasons:
        errors.append(f"{where}: crd-ci-q9: one of covered/pa-needed/doc-needed is 'indeterminate', so 'reason' must exist")


def check_detail(detail, where, errors):
    if value_keys(detail):
        errors.append(f"{where}: 'detail' takes sub-extensions, not a value")
    parts = detail.get("extension")
    if not isinstance(parts, list):
        errors.append(f"{where}: 'detail' has no sub-extensions")
        return
    counts = {url: 0 for url in DETAIL_PARTS}
    for index, part in enumerate(parts):
        place = f"{where}.extension[{index}]"
        url = part.get("url") if isinstance(part, dict) else None
        if url not in DETAIL_PARTS:
            errors.append(f"{place}: unknown sub-extension of 'detail': {url!r}")
            continue
        counts[url] += 1
        keys = value_keys(part)
        allowed = DETAIL_PARTS[url][2]
        if len(keys) != 1 or keys[0] not in allowed:
            errors.append(f"{place}: 'detail.{url}' must have one of {sorted(allowed)}, has {keys or 'none'}")
        elif url == "category" and part[keys[0]] not in DETAIL_CATEGORY:
            errors.append(f"{place}: 'detail.category' is {part[keys[0]]!r}, not one of {sorted(DETAIL_CATEGORY)}")
    for url, (low, high, _) in DETAIL_PARTS.items():
        if counts[url] < low or counts[url] > high:
            errors.append(f"{where}: 'detail.{url}' appears {counts[url]} times, {low}..{high} allowed")


# ------------------------------------------------------------------ CDS Hooks 2.0


def is_text(value):
    return isinstance(value, str) and value != ""


def check_unknown_keys(obj, allowed, where, errors):
    for key in obj:
        if key not in allowed:
            errors.append(f"{where}: unknown field {key!r}")


def check_response(document, errors):
    check_unknown_keys(document, {"cards", "systemActions", "extension"}, "response", errors)
    cards = document.get("cards")
    if not isinstance(cards, list):
        errors.append("response: 'cards' is required and must be an array")
        cards = []
    for index, card in enumerate(cards):
        check_card(card, f"cards[{index}]", errors)
    actions = document.get("systemActions", [])
    if not isinstance(actions, list):
        errors.append("response: 'systemActions' must be an array")
        actions = []
    for index, action in enumerate(actions):
        check_action(action, f"systemActions[{index}]", errors)
    if "extension" in document and not isinstance(document["extension"], dict):
        errors.append("response: 'extension' must be an object")


def check_card(card, where, errors):
    if not isinstance(card, dict):
        errors.append(f"{where}: a card must be an object")
        return
    check_unknown_keys(
        card,
        {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
         "overrideReasons", "links", "extension"},
        where,
        errors,
    )
    if "uuid" in card and not (isinstance(card["uuid"], str) and UUID.match(card["uuid"])):
        errors.append(f"{where}: 'uuid' must be a UUID")
    summary = card.get("summary")
    if not is_text(summary):
        errors.append(f"{where}: 'summary' is required")
    elif len(summary) >= 140:
        errors.append(f"{where}: 'summary' must be shorter than 140 characters, is {len(summary)}")
    if "detail" in card and not isinstance(card["detail"], str):
        errors.append(f"{where}: 'detail' must be a string")
    if card.get("indicator") not in ("info", "warning", "critical"):
        errors.append(f"{where}: 'indicator' must be info, warning or critical, is {card.get('indicator')!r}")
    source = card.get("source")
    if not isinstance(source, dict) or not is_text(source.get("label")):
        errors.append(f"{where}: 'source' with a 'label' is required")
    elif "topic" in source:
        check_coding(source["topic"], f"{where}.source.topic", errors)
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if not isinstance(suggestions, list):
            errors.append(f"{where}: 'suggestions' must be an array")
        else:
            if card.get("selectionBehavior") not in ("at-most-one", "any"):
                errors.append(f"{where}: 'selectionBehavior' (at-most-one or any) is required with suggestions")
            for index, suggestion in enumerate(suggestions):
                place = f"{where}.suggestions[{index}]"
                if not isinstance(suggestion, dict) or not is_text(suggestion.get("label")):
                    errors.append(f"{place}: a suggestion needs a 'label'")
                    continue
                check_unknown_keys(suggestion, {"label", "uuid", "isRecommended", "actions", "extension"}, place, errors)
                if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
                    errors.append(f"{place}: 'isRecommended' must be a boolean")
                for a, action in enumerate(suggestion.get("actions") or []):
                    check_action(action, f"{place}.actions[{a}]", errors)
    for index, reason in enumerate(card.get("overrideReasons") or []):
        check_coding(reason, f"{where}.overrideReasons[{index}]", errors)
    for index, link in enumerate(card.get("links") or []):
        place = f"{where}.links[{index}]"
        if not isinstance(link, dict):
            errors.append(f"{place}: a link must be an object")
            continue
        if not is_text(link.get("label")) or not is_text(link.get("url")):
            errors.append(f"{place}: a link needs a 'label' and a 'url'")
        if link.get("type") not in ("absolute", "smart"):
            errors.append(f"{place}: 'type' must be absolute or smart")


def check_coding(coding, where, errors):
    if not isinstance(coding, dict) or not is_text(coding.get("code")):
        errors.append(f"{where}: a Coding with a 'code' is required")


def check_action(action, where, errors):
    if not isinstance(action, dict):
        errors.append(f"{where}: an action must be an object")
        return
    check_unknown_keys(action, {"type", "description", "resource", "resourceId", "extension"}, where, errors)
    kind = action.get("type")
    if kind not in ("create", "update", "delete"):
        errors.append(f"{where}: 'type' must be create, update or delete, is {kind!r}")
    if not is_text(action.get("description")):
        errors.append(f"{where}: 'description' is required")
    if kind in ("create", "update"):
        if "resource" not in action:
            errors.append(f"{where}: '{kind}' actions need a 'resource'")
    elif kind == "delete" and not is_text(action.get("resourceId")) and "resource" not in action:
        errors.append(f"{where}: a delete action needs a 'resourceId'")
    if "resource" in action:
        check_resource(action["resource"], f"{where}.resource", errors)


# ------------------------------------------------------------------ driver


def validate(text):
    errors = []
    try:
        document = json.loads(text)
    except ValueError as error:
        return {"ok": False, "errors": [f"not JSON: {error}"]}
    if not isinstance(document, dict):
        errors.append("the document is not a JSON object")
    elif "resourceType" in document:
        check_resource(document, document.get("resourceType", "resource"), errors)
    elif "cards" in document or "systemActions" in document:
        check_response(document, errors)
    else:
        errors.append("neither a FHIR resource (resourceType) nor a CDS Hooks response (cards)")
    return {"ok": True} if not errors else {"ok": False, "errors": errors}


def main(argv):
    if _fhir_resources is None:
        print(f"fhir_validate: the fhir.resources package does not import ({_IMPORT_ERROR}); "
              "it needs fhir.resources==6.4.0 and pydantic==1.10.27", file=sys.stderr)
        return 2
    version = getattr(_fhir_resources, "__fhir_version__", None)
    if version != FHIR_VERSION:
        print(f"fhir_validate: fhir.resources models FHIR {version}, not R4 {FHIR_VERSION}; "
              "it needs fhir.resources==6.4.0", file=sys.stderr)
        return 2
    if argv[1:] == ["--check-install"]:
        print(f"fhir.resources {_fhir_resources.__version__} (FHIR {version})")
        return 0
    if len(argv) > 1:
        for name in argv[1:]:
            with open(name, encoding="utf-8") as file:
                print(json.dumps(validate(file.read())), flush=True)
    else:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(validate(line)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
