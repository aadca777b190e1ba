"""Parse and validate a pipeline definition (schema Version "2020-12-01") — pure, no I/O.

For: turning the `PipelineDefinition` JSON text of CreatePipeline/UpdatePipeline into a `PipelineDefinition`
(parameters, steps flattened out of Condition branches, each step's explicit and data dependencies),
rejecting what the service would reject with a `DefinitionError` whose message names the step or
parameter concerned. `validate_definition` is the thin wrapper the API calls; it returns the raw document.

Not for: evaluating expressions or conditions, ordering or running steps, or checking step `Arguments`
against the job APIs' request shapes (the step executors do that when they submit the job).

Key types: `PipelineDefinition`, `Step`, `Parameter`, `PropertyFile`; references come from `references.py`.
Pitfall: a step inside a Condition's `IfSteps`/`ElseSteps` depends on that Condition step implicitly;
`Step.upstream` includes it, `Step.depends_on` (the explicit `DependsOn`) does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from emulator.pipelines.references import InvalidExpression, Reference, ReferenceKind, find_references

DEFINITION_VERSION = "2020-12-01"
STEP_NAME_MAX_LENGTH = 64  # botocore shape StepName
PARAMETER_NAME_MAX_LENGTH = 256  # botocore shape PipelineParameterName
_NAME_PATTERN = re.compile(r"[A-Za-z0-9\-_]*")  # both shapes' pattern
_NAME_RULE = "letters, digits, '-' and '_' (pattern ^[A-Za-z0-9\\-_]*$)"

ParameterValue = str | int | float | bool


class DefinitionError(ValueError):
    """The definition is not one the service would accept; the message says why."""


class StepType(StrEnum):
    """Step types accepted: the SageMaker SDK's StepTypeEnum (v2 2.257 and v3 sagemaker-mlops).

    CreateModel and Notebook are accepted too although no SDK emits them (the SDK writes "Model", and a
    NotebookJobStep is a "Training" step). ForEach (newest v3) is not accepted: its body steps and its
    `ForEach.CurrentItem` references are not modelled here.
    """

    TRAINING = "Training"
    PROCESSING = "Processing"
    TRANSFORM = "Transform"
    TUNING = "Tuning"
    MODEL = "Model"
    CREATE_MODEL = "CreateModel"
    REGISTER_MODEL = "RegisterModel"
    CONDITION = "Condition"
    FAIL = "Fail"
    CALLBACK = "Callback"
    LAMBDA = "Lambda"
    QUALITY_CHECK = "QualityCheck"
    CLARIFY_CHECK = "ClarifyCheck"
    EMR = "EMR"
    EMR_SERVERLESS = "EMRServerless"
    AUTOML = "AutoML"
    NOTEBOOK = "Notebook"
    ENDPOINT_CONFIG = "EndpointConfig"
    ENDPOINT = "Endpoint"
    INFERENCE_COMPONENT = "InferenceComponent"
    LINEAGE = "Lineage"
    BEDROCK_CUSTOM_MODEL = "BedrockCustomModel"
    BEDROCK_CUSTOM_MODEL_DEPLOYMENT = "BedrockCustomModelDeployment"
    BEDROCK_MODEL_IMPORT = "BedrockModelImport"
    BEDROCK_PROVISIONED_MODEL_THROUGHPUT = "BedrockProvisionedModelThroughput"


class ParameterType(StrEnum):
    STRING = "String"
    INTEGER = "Integer"
    FLOAT = "Float"
    BOOLEAN = "Boolean"


class Branch(StrEnum):
    """Which list of its Condition step a step sits in."""

    IF = "if"
    ELSE = "else"


_BRANCH_FIELDS = {Branch.IF: "IfSteps", Branch.ELSE: "ElseSteps"}
_COMPARISON = ("LeftValue", "RightValue")
_CONDITION_FIELDS: dict[str, tuple[str, ...]] = {
    "Equals": _COMPARISON,
    "GreaterThan": _COMPARISON,
    "GreaterThanOrEqualTo": _COMPARISON,
    "LessThan": _COMPARISON,
    "LessThanOrEqualTo": _COMPARISON,
    "In": ("QueryValue", "Values"),
    "Not": ("Condition",),
    "Or": ("Conditions",),
}


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter; `default_value` None means the execution must supply a value."""

    name: str
    type: ParameterType
    default_value: ParameterValue | None = None
    enum_values: tuple[ParameterValue, ...] | None = None


@dataclass(frozen=True)
class PropertyFile:
    """A JSON file a step declares for `Std:JsonGet`: `file_path` inside the output `output_name`."""

    name: str
    output_name: str
    file_path: str


@dataclass(frozen=True)
class Step:
    """One step, wherever it sits; `condition_step`/`branch` say which Condition branch holds it (if any).

    `references` are those in the step's own fields (for a Condition step: its conditions, not its
    branches' steps); `raw` is the step object exactly as sent.
    """

    name: str
    type: StepType
    depends_on: tuple[str, ...] = ()
    condition_step: str | None = None
    branch: Branch | None = None
    references: tuple[Reference, ...] = ()
    property_files: tuple[PropertyFile, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def arguments(self) -> dict[str, Any]:
        arguments = self.raw.get("Arguments")
        return arguments if isinstance(arguments, dict) else {}

    @property
    def referenced_steps(self) -> tuple[str, ...]:
        """Steps whose properties this step reads (its data dependencies), in document order."""
        names = (ref.name for ref in self.references if ref.kind is ReferenceKind.STEP)
        return tuple(dict.fromkeys(names))

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every step that must finish first: DependsOn, data dependencies, and the enclosing Condition."""
        enclosing = (self.condition_step,) if self.condition_step else ()
        return tuple(dict.fromkeys((*self.depends_on, *self.referenced_steps, *enclosing)))


@dataclass(frozen=True)
class PipelineDefinition:
    """A valid definition: parameters, all steps (Condition branches flattened in document order), raw JSON."""

    version: str
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def _steps_by_name(self) -> dict[str, Step]:
        return {step.name: step for step in self.steps}

    @cached_property
    def _parameters_by_name(self) -> dict[str, Parameter]:
        return {parameter.name: parameter for parameter in self.parameters}

    def step(self, name: str) -> Step:
        """The step called `name`; KeyError if there is none."""
        return self._steps_by_name[name]

    def parameter(self, name: str) -> Parameter:
        """The parameter called `name`; KeyError if there is none."""
        return self._parameters_by_name[name]

    @property
    def top_level_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.condition_step is None)

    def branch_steps(self, condition_step: str, branch: Branch) -> tuple[Step, ...]:
        """The steps listed directly in one branch of a Condition step."""
        return tuple(s for s in self.steps if s.condition_step == condition_step and s.branch is branch)


def validate_definition(text: str) -> dict[str, Any]:
    """Validate the definition and return its raw JSON document; raise DefinitionError if invalid."""
    return parse_definition(text).document


def parse_definition(text: str) -> PipelineDefinition:
    """Parse and fully validate a definition; raise DefinitionError naming the first problem found."""
    document = _load_document(text)
    _check_version(document)
    parameters = _parse_parameters(document.get("Parameters", []))
    if "Steps" not in document:
        raise DefinitionError("Pipeline definition is missing required field 'Steps'")
    steps = tuple(_parse_steps(document["Steps"], "Steps"))
    _check_unique((step.name for step in steps), "Step names must be unique: found duplicate step name '{}'")
    _check_links(steps, parameters, document.get("PipelineExperimentConfig"))
    _check_acyclic(steps)
    return PipelineDefinition(DEFINITION_VERSION, parameters, steps, document)


# --- document and version -------------------------------------------------------------------------------


def _load_document(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, RecursionError) as error:
        raise DefinitionError(f"Pipeline definition is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise DefinitionError("Pipeline definition must be a JSON object")
    return document


def _reject_constant(name: str) -> None:
    raise DefinitionError(f"Pipeline definition is not valid JSON: {name} is not a JSON value")


def _check_version(document: dict[str, Any]) -> None:
    if "Version" not in document:
        raise DefinitionError(f"Pipeline definition is missing required field 'Version' ('{DEFINITION_VERSION}')")
    if document["Version"] != DEFINITION_VERSION:
        raise DefinitionError(
            f"Pipeline definition Version {json.dumps(document['Version'])} is not supported; "
            f"the supported version is '{DEFINITION_VERSION}'"
        )


def _name(raw: dict[str, Any], location: str, kind: str, max_length: int) -> str:
    if "Name" not in raw:
        raise DefinitionError(f"{location} is missing required field 'Name'")
    name = raw["Name"]
    if not isinstance(name, str) or not 1 <= len(name) <= max_length or not _NAME_PATTERN.fullmatch(name):
        raise DefinitionError(
            f"{kind} name {json.dumps(name)} is invalid: it must be 1 to {max_length} characters of {_NAME_RULE}"
        )
    return name


def _check_unique(names: Iterable[str], message: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DefinitionError(message.format(name))
        seen.add(name)


# --- parameters -----------------------------------------------------------------------------------------


def _parse_parameters(items: object) -> tuple[Parameter, ...]:
    if not isinstance(items, list):
        raise DefinitionError("Pipeline definition 'Parameters' must be a list of parameter objects")
    parameters = tuple(_parse_parameter(item, index) for index, item in enumerate(items))
    _check_unique((p.name for p in parameters), "Parameter names must be unique: found duplicate parameter name '{}'")
    return parameters


def _parse_parameter(raw: object, index: int) -> Parameter:
    if not isinstance(raw, dict):
        raise DefinitionError(f"Parameters[{index}] must be a parameter object")
    name = _name(raw, f"Parameters[{index}]", "Parameter", PARAMETER_NAME_MAX_LENGTH)
    kind = _parameter_type(raw, name)
    enum_values = _enum_values(raw, name, kind)
    default = raw.get("DefaultValue")
    if default is None:
        return Parameter(name, kind, None, enum_values)
    if not _is_value_of(kind, default):
        raise DefinitionError(
            f"Parameter '{name}' of Type {kind} has a DefaultValue of the wrong type: {json.dumps(default)}"
        )
    if enum_values is not None and default not in enum_values:
        raise DefinitionError(
            f"Parameter '{name}' DefaultValue {json.dumps(default)} is not one of its EnumValues "
            f"{json.dumps(list(enum_values))}"
        )
    return Parameter(name, kind, _normalized(kind, default), enum_values)


def _parameter_type(raw: dict[str, Any], name: str) -> ParameterType:
    value = raw.get("Type")
    if value not in set(ParameterType):
        valid = ", ".join(ParameterType)
        raise DefinitionError(f"Parameter '{name}' has invalid Type {json.dumps(value)}; valid types are {valid}")
    return ParameterType(value)


def _enum_values(raw: dict[str, Any], name: str, kind: ParameterType) -> tuple[ParameterValue, ...] | None:
    values = raw.get("EnumValues")
    if values is None:
        return None
    if not isinstance(values, list) or not values or not all(_is_value_of(kind, v) for v in values):
        raise DefinitionError(f"Parameter '{name}' EnumValues must be a non-empty list of {kind} values")
    return tuple(_normalized(kind, value) for value in values)


def _is_value_of(kind: ParameterType, value: object) -> bool:
    if isinstance(value, bool):
        return kind is ParameterType.BOOLEAN
    if kind is ParameterType.INTEGER:
        return isinstance(value, int)
    if kind is ParameterType.FLOAT:
        return isinstance(value, int | float)
    return kind is ParameterType.STRING and isinstance(value, str)


def _normalized(kind: ParameterType, value: ParameterValue) -> ParameterValue:
    return float(value) if kind is ParameterType.FLOAT else value


# --- steps ----------------------------------------------------------------------------------------------


def _parse_steps(
    items: object, where: str, condition_step: str | None = None, branch: Branch | None = None
) -> Iterator[Step]:
    if not isinstance(items, list):
        raise DefinitionError(f"{where} must be a list of step objects")
    for index, raw in enumerate(items):
        step = _parse_step(raw, f"{where}[{index}]", condition_step, branch)
        yield step
        if step.type is StepType.CONDITION:
            for nested_branch, key in _BRANCH_FIELDS.items():
                nested = step.arguments.get(key, [])
                yield from _parse_steps(nested, f"Condition step '{step.name}' {key}", step.name, nested_branch)


def _parse_step(raw: object, location: str, condition_step: str | None, branch: Branch | None) -> Step:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{location} must be a step object")
    name = _name(raw, location, "Step", STEP_NAME_MAX_LENGTH)
    step_type = _step_type(raw, name)
    _check_step_fields(raw, name)
    if step_type is StepType.CONDITION:
        _check_condition_arguments(raw.get("Arguments"), name)
    return Step(
        name=name,
        type=step_type,
        depends_on=_depends_on(raw, name),
        condition_step=condition_step,
        branch=branch,
        references=_step_references(raw, name, step_type),
        property_files=_property_files(raw, name),
        raw=raw,
    )


def _step_type(raw: dict[str, Any], name: str) -> StepType:
    if "Type" not in raw:
        raise DefinitionError(f"Step '{name}' is missing required field 'Type'")
    if raw["Type"] not in set(StepType):
        valid = ", ".join(sorted(StepType))
        raise DefinitionError(f"Step '{name}' has unknown Type {json.dumps(raw['Type'])}; valid types are {valid}")
    return StepType(raw["Type"])


def _check_step_fields(raw: dict[str, Any], name: str) -> None:
    if "Arguments" in raw and not isinstance(raw["Arguments"], dict):
        raise DefinitionError(f"Step '{name}' Arguments must be an object")
    for key in ("DisplayName", "Description"):
        if key in raw and not isinstance(raw[key], str):
            raise DefinitionError(f"Step '{name}' {key} must be a string")


def _depends_on(raw: dict[str, Any], name: str) -> tuple[str, ...]:
    value = raw.get("DependsOn")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DefinitionError(f"Step '{name}' DependsOn must be a list of step names")
    return tuple(value)


def _step_references(raw: dict[str, Any], name: str, step_type: StepType) -> tuple[Reference, ...]:
    own = {key: value for key, value in raw.items() if key not in ("Name", "Type", "DependsOn")}
    if step_type is StepType.CONDITION:
        own["Arguments"] = {k: v for k, v in raw["Arguments"].items() if k not in _BRANCH_FIELDS.values()}
    with _expression_context(f"Step '{name}'"):
        return find_references(own)


@contextmanager
def _expression_context(where: str) -> Iterator[None]:
    try:
        yield
    except InvalidExpression as error:
        raise DefinitionError(f"{where} has an invalid expression: {error}") from None


def _property_files(raw: dict[str, Any], name: str) -> tuple[PropertyFile, ...]:
    items = raw.get("PropertyFiles")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise DefinitionError(f"Step '{name}' PropertyFiles must be a list")
    files = tuple(_property_file(item, name, index) for index, item in enumerate(items))
    _check_unique((f.name for f in files), f"Step '{name}' declares property file '{{}}' more than once")
    return files


def _property_file(item: object, name: str, index: int) -> PropertyFile:
    fields = ("PropertyFileName", "OutputName", "FilePath")
    values = [item.get(key) for key in fields] if isinstance(item, dict) else [None] * len(fields)
    for key, value in zip(fields, values, strict=True):
        if not isinstance(value, str) or not value:
            raise DefinitionError(f"Step '{name}' PropertyFiles[{index}] needs a non-empty string '{key}'")
    return PropertyFile(*values)


# --- conditions -----------------------------------------------------------------------------------------


def _check_condition_arguments(arguments: object, name: str) -> None:
    if not isinstance(arguments, dict) or "Conditions" not in arguments:
        raise DefinitionError(f"Condition step '{name}' needs Arguments with a 'Conditions' list")
    _check_conditions(arguments["Conditions"], name)
    for key in _BRANCH_FIELDS.values():
        if not isinstance(arguments.get(key, []), list):
            raise DefinitionError(f"Condition step '{name}' {key} must be a list of step objects")


def _check_conditions(conditions: object, name: str) -> None:
    if not isinstance(conditions, list):
        raise DefinitionError(f"Condition step '{name}' Conditions must be a list of conditions")
    for condition in conditions:
        _check_condition(condition, name)


def _check_condition(condition: object, name: str) -> None:
    if not isinstance(condition, dict):
        raise DefinitionError(f"Condition step '{name}' has a condition that is not an object")
    kind = condition.get("Type")
    required = _CONDITION_FIELDS.get(kind) if isinstance(kind, str) else None
    if required is None:
        valid = ", ".join(_CONDITION_FIELDS)
        raise DefinitionError(
            f"Condition step '{name}' has a condition of unknown Type {json.dumps(kind)}; valid types are {valid}"
        )
    for key in required:
        if key not in condition:
            raise DefinitionError(f"Condition step '{name}' has a {kind} condition without '{key}'")
    if kind == "In" and not isinstance(condition["Values"], list):
        raise DefinitionError(f"Condition step '{name}' has an In condition whose 'Values' is not a list")
    if kind == "Not":
        _check_condition(condition["Condition"], name)
    if kind == "Or":
        _check_conditions(condition["Conditions"], name)


# --- links between steps, parameters and references -----------------------------------------------------


def _check_links(steps: tuple[Step, ...], parameters: tuple[Parameter, ...], experiment: object) -> None:
    steps_by_name = {step.name: step for step in steps}
    parameter_names = {parameter.name for parameter in parameters}
    for step in steps:
        for target in step.depends_on:
            if target not in steps_by_name:
                raise DefinitionError(f"Step '{step.name}' DependsOn step '{target}', which is not in the pipeline")
        for reference in step.references:
            _check_reference(reference, f"Step '{step.name}'", steps_by_name, parameter_names)
    with _expression_context("PipelineExperimentConfig"):
        experiment_references = find_references(experiment)
    for reference in experiment_references:
        _check_reference(reference, "PipelineExperimentConfig", steps_by_name, parameter_names)


def _check_reference(reference: Reference, referrer: str, steps: dict[str, Step], parameters: set[str]) -> None:
    if reference.kind is ReferenceKind.PARAMETER and reference.name not in parameters:
        raise DefinitionError(
            f"{referrer} references parameter '{reference.name}', which is not declared in Parameters"
        )
    if reference.kind is not ReferenceKind.STEP:
        return
    target = steps.get(reference.name)
    if target is None:
        raise DefinitionError(
            f"{referrer} references step '{reference.name}' (Get '{reference.expression}'), "
            "which is not in the pipeline"
        )
    file = reference.property_file
    if file is not None and file not in {f.name for f in target.property_files}:
        raise DefinitionError(
            f"{referrer} references property file '{file}' of step '{target.name}', "
            "which declares no such property file"
        )


def _check_acyclic(steps: tuple[Step, ...]) -> None:
    cycle = _find_cycle({step.name: step.upstream for step in steps})
    if cycle is not None:
        path = " -> ".join(f"'{name}'" for name in cycle)
        raise DefinitionError(f"Pipeline steps form a dependency cycle: {path} (each step depends on the next)")


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle in `graph` (node -> the nodes it depends on) as a closed path, or None; iterative DFS."""
    finished: set[str] = set()
    for root in graph:
        if root in finished:
            continue
        path, on_path, pending = [root], {root}, [iter(graph[root])]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                finished.add(path[-1])
                on_path.discard(path.pop())
                pending.pop()
            elif following in on_path:
                return [*path[path.index(following) :], following]
            elif following not in finished:
                path.append(following)
                on_path.add(following)
                pending.append(iter(graph[following]))
    return None
