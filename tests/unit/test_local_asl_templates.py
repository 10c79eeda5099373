"""Static ASL validation, Terraform templatefile rendering and the JSONPath subset."""

from __future__ import annotations

import pytest

from edf_local import jsonpath
from edf_local.asl import asl_diagnostics, validate_asl
from edf_local.templates import TemplateError, render_asl, template_variables

GOOD = {
    "Comment": "ok",
    "StartAt": "T",
    "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "f", "Payload.$": "$", "Name.$": "States.Format('x-{}', $$.Execution.Name)"},
              "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 2, "BackoffRate": 2}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
              "ResultPath": "$.t", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.t.ok", "BooleanEquals": True},
                                                     {"Variable": "$.t.n", "NumericGreaterThanPath": "$.min"}],
                                             "Next": "Done"}], "Default": "Failed"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "X", "CausePath": "$.error.Cause"},
    },
}


def test_valid_definition_has_no_problems():
    assert validate_asl(GOOD) == []


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda d: d.update(StartAt="Nope"), "StartAt 'Nope' is not a state"),
    (lambda d: d["States"]["T"].update(Next="Ghost"), "'Ghost' is not a state"),
    (lambda d: d["States"]["C"].update(Default="Ghost"), "'Ghost' is not a state"),
    (lambda d: d["States"]["T"]["Catch"][0].update(Next="Ghost"), "'Ghost' is not a state"),
    (lambda d: d["States"]["T"].update(End=True), "exactly one of 'Next' or 'End"),
    (lambda d: d["States"]["T"].update(Bogus=1), "'Bogus' is not allowed in a Task state"),
    (lambda d: d["States"]["T"].update(Type="Tusk"), "unknown state Type 'Tusk'"),
    (lambda d: d["States"]["T"].update(ResultPath="$.a[*]"), "not a valid reference path"),
    (lambda d: d["States"]["T"].update(InputPath="nope"), "not a valid JSONPath"),
    (lambda d: d["States"]["T"]["Parameters"].update({"Bad.$": "$.a["}), "not a valid JSONPath"),
    (lambda d: d["States"]["T"]["Parameters"].update({"Bad.$": "States.Nope($.a)"}), "unknown intrinsic"),
    (lambda d: d["States"]["T"]["Retry"][0].update(ErrorEquals=["States.ALL", "X"]), "must appear alone"),
    (lambda d: d["States"]["T"]["Retry"][0].update(BackoffRate=0.5), "BackoffRate"),
    (lambda d: d["States"]["C"]["Choices"][0]["And"][0].update(StringEquals="x"), "exactly one comparison"),
    (lambda d: d["States"]["C"]["Choices"][0]["And"][0].update(Next="Done"), "only allowed on top-level"),
    (lambda d: d["States"].update(Orphan={"Type": "Succeed"}), "'Orphan' is not reachable"),
    (lambda d: d["States"]["Failed"].update(Cause="c"), "mutually exclusive"),
])
def test_each_problem_is_reported(mutate, needle):
    import copy

    d = copy.deepcopy(GOOD)
    mutate(d)
    problems = validate_asl(d)
    assert any(needle in p for p in problems), problems


def test_no_terminal_state_and_locations():
    d = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}
    diags = asl_diagnostics(d)
    assert [x.code for x in diags] == ["NO_TERMINAL_STATE"]


def test_nested_branches_are_validated_in_their_own_scope():
    d = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "P"}}}]}}}
    problems = validate_asl(d)
    assert any("/Branches/0/States/X" in p and "'P' is not a state" in p for p in problems)


def test_local_only_restrictions():
    d = {"StartAt": "T", "States": {"T": {"Type": "Task", "End": True,
                                          "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken"}}}
    assert validate_asl(d) == []
    assert any("waitForTaskToken" in p for p in validate_asl(d, for_local=True))


# ---------------------------------------------------------------- templates
TEMPLATE = """{
  "StartAt": "T",
  "States": {"T": {"Type": "Task", "Resource": "${lambda_arn}",
    "Parameters": {"Image": "${image_uri}", "Count": ${count}, "Lit": "$${not_a_var}", "Path.$": "$.x"},
    "End": true}}
}"""


def test_render_asl_interpolates_and_escapes():
    d = render_asl(TEMPLATE, {"lambda_arn": "arn:aws:lambda:eu-central-1:1:function:f", "image_uri": "img:1",
                              "count": 3, "unused": "fine"})
    params = d["States"]["T"]["Parameters"]
    assert d["States"]["T"]["Resource"].endswith(":function:f")
    assert params == {"Image": "img:1", "Count": 3, "Lit": "${not_a_var}", "Path.$": "$.x"}
    assert template_variables(TEMPLATE) == {"lambda_arn", "image_uri", "count"}


def test_render_asl_names_every_missing_variable():
    with pytest.raises(TemplateError, match="count, image_uri"):
        render_asl(TEMPLATE, {"lambda_arn": "a"})


def test_render_asl_rejects_directives_expressions_and_bad_values():
    with pytest.raises(TemplateError, match="directives"):
        render_asl('{"a": "%{ if x }y%{ endif }"}', {"x": True})
    with pytest.raises(TemplateError, match="only"):
        render_asl('{"a": "${upper(x)}"}', {"x": "v"})
    with pytest.raises(TemplateError, match="cannot include a list"):
        render_asl('{"a": "${x}"}', {"x": [1]})
    with pytest.raises(TemplateError, match="not valid JSON"):
        render_asl('{"a": ${x}}', {"x": "not json"})


# ---------------------------------------------------------------- jsonpath
def test_jsonpath_get_put():
    doc = {"a": {"b": [1, {"c": "x"}]}, "k y": 2}
    assert jsonpath.get(doc, "$.a.b[1].c") == "x"
    assert jsonpath.get(doc, "$['k y']") == 2
    assert jsonpath.get(doc, "$.a.b[-1]") == {"c": "x"}
    assert jsonpath.get(doc, "$.a.b[0:1]") == [1]
    assert jsonpath.get({"l": [{"v": 1}, {"v": 2}]}, "$.l[*].v") == [1, 2]
    assert jsonpath.get({}, "$$.Execution.Name", {"Execution": {"Name": "n"}}) == "n"
    with pytest.raises(jsonpath.PathError, match="could not be found"):
        jsonpath.get(doc, "$.a.zz")
    with pytest.raises(jsonpath.PathError, match="deep scan"):
        jsonpath.parse("$..a")
    out = jsonpath.put(doc, "$.new.deep", 5)
    assert out["new"] == {"deep": 5} and "new" not in doc  # copy, original untouched
    with pytest.raises(jsonpath.PathError):
        jsonpath.put("scalar", "$.x", 1)
