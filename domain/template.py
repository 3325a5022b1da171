"""The Template aggregate: a prompt template its authors write, version after version (``template-<id>``).

Every change is a new version; an answer records the id and version of the template it used, so an old answer
still names the text that made it. What a field may hold is checked here as far as the domain can judge (names,
h2oGPTe's ``%s`` placeholders, sizes); Jinja2 in ``chat_template`` is checked by the template engine's port
before the command is decided.
"""

from __future__ import annotations

import msgspec

from domain.answering import (
    DEFAULT_HYDE_EXTENSION,
    DEFAULT_PRE_PROMPT_QUERY,
    DEFAULT_PRE_PROMPT_SUMMARY,
    DEFAULT_PROMPT_QUERY,
    DEFAULT_PROMPT_REFLECTION,
    DEFAULT_PROMPT_SUMMARY,
    DEFAULT_SYSTEM_PROMPT,
    DEFAULT_SYSTEM_PROMPT_REFLECTION,
)
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import Event, TemplateCreated, TemplateDeleted, TemplateFields, TemplateUpdated

MAX_NAME_CHARS = 200
MAX_FIELD_CHARS = 64_000  # a prompt far longer than any model's context is a mistake, not a template
MAX_SAMPLE_QUESTIONS = 50
# Fields h2oGPTe fills with printf-style placeholders, and how many each needs.
PLACEHOLDERS = {"prompt_reflection": 2}


# The built-in default template: part of Parley itself, not of the log, so it has no stream and no versions and
# cannot be changed or deleted. Its texts are the defaults the answering pipeline uses (h2oGPTe's, apart from the
# system prompt, which says what Parley is).
DEFAULT_TEMPLATE_ID = "parley-default"
DEFAULT_FIELDS = TemplateFields(
    name="Parley default",
    description="The prompts answers are made with unless a template, the collection or the request says otherwise",
    lang="en",
    system_prompt=DEFAULT_SYSTEM_PROMPT,
    pre_prompt_query=DEFAULT_PRE_PROMPT_QUERY,
    prompt_query=DEFAULT_PROMPT_QUERY,
    hyde_no_rag_llm_prompt_extension=DEFAULT_HYDE_EXTENSION,
    pre_prompt_summary=DEFAULT_PRE_PROMPT_SUMMARY,
    prompt_summary=DEFAULT_PROMPT_SUMMARY,
    system_prompt_reflection=DEFAULT_SYSTEM_PROMPT_REFLECTION,
    prompt_reflection=DEFAULT_PROMPT_REFLECTION,
)


class BuiltInTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """A template that ships with Parley (today only the default)."""

    id: str
    fields: TemplateFields


DEFAULT_TEMPLATE = BuiltInTemplate(id=DEFAULT_TEMPLATE_ID, fields=DEFAULT_FIELDS)


class CreateTemplate(msgspec.Struct, frozen=True, kw_only=True):
    template_id: str
    fields: TemplateFields
    owner: str


class UpdateTemplate(msgspec.Struct, frozen=True, kw_only=True):
    template_id: str
    changes: TemplateFields  # the fields to set (None: unchanged)
    clear: tuple[str, ...] = ()  # the fields to unset


class DeleteTemplate(msgspec.Struct, frozen=True, kw_only=True):
    template_id: str


TemplateCommand = CreateTemplate | UpdateTemplate | DeleteTemplate


class Template(msgspec.Struct, frozen=True, kw_only=True):
    template_id: str
    fields: TemplateFields
    owner: str
    version: int
    deleted: bool = False


State = Template | None
FIELD_NAMES = tuple(field.name for field in msgspec.structs.fields(TemplateFields))


def given(fields: TemplateFields) -> dict[str, object]:
    """The fields that are set."""
    return {name: value for name in FIELD_NAMES if (value := getattr(fields, name)) is not None}


def check_fields(fields: TemplateFields) -> None:
    """InvalidCommand, naming the field, for a value no template may hold."""
    for name, value in given(fields).items():
        if name == "default_sample_questions":
            assert isinstance(value, tuple)
            if len(value) > MAX_SAMPLE_QUESTIONS:
                raise InvalidCommand(f"default_sample_questions holds at most {MAX_SAMPLE_QUESTIONS} questions")
            if any(not question.strip() or len(question) > MAX_NAME_CHARS * 5 for question in value):
                raise InvalidCommand("each of default_sample_questions must be a question of at most 1,000 characters")
            continue
        assert isinstance(value, str)
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidCommand(f"{name} is longer than {MAX_FIELD_CHARS:,} characters")
        wanted = PLACEHOLDERS.get(name)
        if wanted is not None and value.count("%s") != wanted:
            raise InvalidCommand(f"{name} needs exactly {wanted} %s placeholders, found {value.count('%s')}")
    if fields.name is not None and not 0 < len(fields.name.strip()) <= MAX_NAME_CHARS:
        raise InvalidCommand(f"a template's name must have 1 to {MAX_NAME_CHARS} characters")


def decide(state: State, command: TemplateCommand) -> list[Event]:
    if isinstance(command, CreateTemplate):
        if state is not None:
            raise AlreadyExists(f"prompt template {command.template_id} already exists")
        if command.fields.name is None:
            raise InvalidCommand("a prompt template needs a name")
        check_fields(command.fields)
        return [TemplateCreated(template_id=command.template_id, fields=command.fields, owner=command.owner)]
    if state is None or state.deleted:
        raise NotFound(f"prompt template {command.template_id} not found")
    if isinstance(command, DeleteTemplate):
        return [TemplateDeleted(template_id=command.template_id)]
    unknown = sorted(set(command.clear) - set(FIELD_NAMES))
    if unknown:
        raise InvalidCommand(f"no such template fields to clear: {', '.join(unknown)}")
    if "name" in command.clear:
        raise InvalidCommand("a prompt template's name can be changed, not cleared")
    check_fields(command.changes)
    current = given(state.fields)
    changed = {name: value for name, value in given(command.changes).items() if current.get(name) != value}
    cleared = tuple(name for name in command.clear if name in current and name not in changed)
    if not changed and not cleared:
        return []  # nothing new: no new version
    return [
        TemplateUpdated(
            template_id=command.template_id,
            changed=msgspec.convert(changed, TemplateFields),
            cleared=cleared,
            version=state.version + 1,
        )
    ]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, TemplateCreated):
        return Template(template_id=event.template_id, fields=event.fields, owner=event.owner, version=event.version)
    if state is None:
        return state
    if isinstance(event, TemplateUpdated):
        fields = {**given(state.fields), **given(event.changed)}
        for name in event.cleared:
            fields.pop(name, None)
        return msgspec.structs.replace(state, fields=msgspec.convert(fields, TemplateFields), version=event.version)
    if isinstance(event, TemplateDeleted):
        return msgspec.structs.replace(state, deleted=True)
    return state
