from domain import template
from domain.answering import DEFAULT_PROMPT_REFLECTION, DEFAULT_SYSTEM_PROMPT
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import TemplateCreated, TemplateDeleted, TemplateFields, TemplateUpdated
from domain.template import CreateTemplate, DeleteTemplate, UpdateTemplate
from tests.unit.scenario import given

FIELDS = TemplateFields(name="Terse", system_prompt="Answer in one sentence.")
CREATED = TemplateCreated(template_id="t1", fields=FIELDS, owner="ann")


def test_create_records_version_one() -> None:
    given(template).when(CreateTemplate(template_id="t1", fields=FIELDS, owner="ann")).then(CREATED)


def test_a_template_needs_a_name_and_a_new_id() -> None:
    unnamed = CreateTemplate(template_id="t1", fields=TemplateFields(system_prompt="x"), owner="ann")
    given(template).when(unnamed).then_error(InvalidCommand, "needs a name")
    blank = CreateTemplate(template_id="t1", fields=TemplateFields(name="  "), owner="ann")
    given(template).when(blank).then_error(InvalidCommand, "name must have 1 to 200")
    again = CreateTemplate(template_id="t1", fields=FIELDS, owner="ann")
    given(template, CREATED).when(again).then_error(AlreadyExists, "already exists")


def test_placeholders_and_sizes_are_checked_naming_the_field() -> None:
    one_placeholder = TemplateFields(name="R", prompt_reflection="Judge %s")
    command = CreateTemplate(template_id="t1", fields=one_placeholder, owner="ann")
    given(template).when(command).then_error(InvalidCommand, "prompt_reflection needs exactly 2 %s placeholders")
    huge = TemplateFields(name="H", system_prompt="x" * 64_001)
    given(template).when(CreateTemplate(template_id="t1", fields=huge, owner="ann")).then_error(
        InvalidCommand, "system_prompt is longer than 64,000"
    )
    questions = TemplateFields(name="Q", default_sample_questions=("Why?", " "))
    given(template).when(CreateTemplate(template_id="t1", fields=questions, owner="ann")).then_error(
        InvalidCommand, "default_sample_questions"
    )


def test_each_update_is_a_new_version_holding_only_what_changed() -> None:
    update = UpdateTemplate(template_id="t1", changes=TemplateFields(system_prompt="Be brief.", lang="en"))
    second = TemplateUpdated(template_id="t1", changed=TemplateFields(system_prompt="Be brief.", lang="en"), version=2)
    given(template, CREATED).when(update).then(second)
    clear = UpdateTemplate(template_id="t1", changes=TemplateFields(), clear=("lang",))
    given(template, CREATED, second).when(clear).then(
        TemplateUpdated(template_id="t1", changed=TemplateFields(), version=3, cleared=("lang",))
    )


def test_an_update_that_changes_nothing_makes_no_version() -> None:
    same = UpdateTemplate(template_id="t1", changes=TemplateFields(system_prompt="Answer in one sentence."))
    given(template, CREATED).when(same).then()
    given(template, CREATED).when(UpdateTemplate(template_id="t1", changes=TemplateFields(), clear=("lang",))).then()


def test_the_name_cannot_be_cleared_nor_unknown_fields() -> None:
    given(template, CREATED).when(
        UpdateTemplate(template_id="t1", changes=TemplateFields(), clear=("name",))
    ).then_error(InvalidCommand, "name can be changed, not cleared")
    given(template, CREATED).when(
        UpdateTemplate(template_id="t1", changes=TemplateFields(), clear=("bogus",))
    ).then_error(InvalidCommand, "no such template fields to clear: bogus")


def test_the_folded_state_is_the_latest_text_and_version() -> None:
    second = TemplateUpdated(template_id="t1", changed=TemplateFields(lang="fr"), version=2)
    third = TemplateUpdated(template_id="t1", changed=TemplateFields(name="Terse FR"), version=3, cleared=("lang",))
    state = None
    for event in (CREATED, second, third):
        state = template.evolve(state, event)
    assert state is not None and state.version == 3
    assert template.given(state.fields) == {"name": "Terse FR", "system_prompt": "Answer in one sentence."}


def test_a_deleted_template_takes_no_command() -> None:
    deleted = TemplateDeleted(template_id="t1")
    given(template, CREATED).when(DeleteTemplate(template_id="t1")).then(deleted)
    for command in (DeleteTemplate(template_id="t1"), UpdateTemplate(template_id="t1", changes=FIELDS)):
        given(template, CREATED, deleted).when(command).then_error(NotFound, "not found")
    given(template).when(DeleteTemplate(template_id="t9")).then_error(NotFound, "t9 not found")


def test_the_built_in_default_is_a_valid_template_with_the_answering_defaults() -> None:
    template.check_fields(template.DEFAULT_FIELDS)  # h2oGPTe's reflection prompt has its two %s
    assert template.DEFAULT_FIELDS.prompt_reflection == DEFAULT_PROMPT_REFLECTION
    assert template.DEFAULT_FIELDS.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert template.DEFAULT_TEMPLATE.id == template.DEFAULT_TEMPLATE_ID and template.DEFAULT_FIELDS.name
