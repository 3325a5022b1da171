"""Attaching templates to collections and sessions (given / when / then), and the precedence of prompt texts."""

from domain import chat, collection
from domain.answering import DEFAULT_PROMPT_QUERY, DEFAULT_SYSTEM_PROMPT
from domain.chat import AttachSessionTemplate, DetachSessionTemplate
from domain.collection import AttachTemplate, DetachTemplate, ReplaceChatSettings, ResetPromptSettings
from domain.errors import NotFound
from domain.events import (
    ChatSessionCreated,
    ChatSessionTemplateAttached,
    ChatSessionTemplateDetached,
    ChatSettings,
    CollectionChatSettingsReplaced,
    CollectionCreated,
    CollectionDeleted,
    CollectionSettings,
    CollectionTemplateAttached,
    CollectionTemplateDetached,
    TemplateFields,
)
from domain.prompting import AppliedTemplate, resolve_prompts, template_header
from domain.template import DEFAULT_FIELDS, DEFAULT_TEMPLATE_ID
from tests.unit.scenario import given

PROMPTED = ChatSettings(
    llm="extractive",
    rag_config={"rag_type": "rag", "system_prompt": "From settings.", "prompt_query": "Settings say: "},
    self_reflection_config={"prompt_reflection": "%s / %s", "llm_reflection": "extractive"},
)
CREATED = CollectionCreated(
    collection_id="c1",
    name="Docs",
    description="d",
    embedding_model="all-MiniLM-L6-v2",
    settings=CollectionSettings(),
    chat_settings=PROMPTED,
    rag_type=None,
    owner="ann",
)
ATTACHED = CollectionTemplateAttached(collection_id="c1", template_id="t1")
SESSION = ChatSessionCreated(session_id="s1", collection_id="c1", name=None, owner="ann")


def test_a_template_is_attached_once_and_detached() -> None:
    given(collection, CREATED).when(AttachTemplate(collection_id="c1", template_id="t1")).then(ATTACHED)
    given(collection, CREATED, ATTACHED).when(AttachTemplate(collection_id="c1", template_id="t1")).then()
    given(collection, CREATED, ATTACHED).when(AttachTemplate(collection_id="c1", template_id="t2")).then(
        CollectionTemplateAttached(collection_id="c1", template_id="t2")
    )
    given(collection, CREATED, ATTACHED).when(DetachTemplate(collection_id="c1")).then(
        CollectionTemplateDetached(collection_id="c1")
    )
    given(collection, CREATED).when(DetachTemplate(collection_id="c1")).then()  # nothing attached: nothing new
    given(collection, CREATED, CollectionDeleted(collection_id="c1")).when(
        AttachTemplate(collection_id="c1", template_id="t1")
    ).then_error(NotFound, "collection c1 not found")


def test_chat_settings_are_replaced_whole_and_a_reset_removes_only_prompts() -> None:
    plain = ChatSettings(llm="extractive")
    given(collection, CREATED).when(ReplaceChatSettings(collection_id="c1", chat_settings=plain)).then(
        CollectionChatSettingsReplaced(collection_id="c1", chat_settings=plain)
    )
    given(collection, CREATED).when(ReplaceChatSettings(collection_id="c1", chat_settings=PROMPTED)).then()
    reset = ChatSettings(
        llm="extractive", rag_config={"rag_type": "rag"}, self_reflection_config={"llm_reflection": "extractive"}
    )
    given(collection, CREATED, ATTACHED).when(ResetPromptSettings(collection_id="c1")).then(
        CollectionTemplateDetached(collection_id="c1"),
        CollectionChatSettingsReplaced(collection_id="c1", chat_settings=reset),
    )
    settled = CollectionChatSettingsReplaced(collection_id="c1", chat_settings=reset)
    given(collection, CREATED, settled).when(ResetPromptSettings(collection_id="c1")).then()


def test_a_session_takes_a_template_of_its_own() -> None:
    attached = ChatSessionTemplateAttached(session_id="s1", template_id="t2")
    given(chat, SESSION).when(AttachSessionTemplate(session_id="s1", template_id="t2")).then(attached)
    given(chat, SESSION, attached).when(AttachSessionTemplate(session_id="s1", template_id="t2")).then()
    given(chat, SESSION, attached).when(DetachSessionTemplate(session_id="s1")).then(
        ChatSessionTemplateDetached(session_id="s1")
    )
    given(chat, SESSION).when(DetachSessionTemplate(session_id="s1")).then()


SESSION_TEMPLATE = AppliedTemplate(
    template_id="ts", version=3, fields=TemplateFields(name="S", system_prompt="From the session."), place="session"
)
COLLECTION_TEMPLATE = AppliedTemplate(
    template_id="tc",
    version=1,
    fields=TemplateFields(name="C", system_prompt="From the collection.", prompt_query="Collection says: ", lang="fr"),
    place="collection",
)


def test_each_field_comes_from_the_nearest_source_that_gives_it() -> None:
    settings = {"system_prompt": "From settings.", "prompt_query": "Settings say: ", "pre_prompt_summary": "S: "}
    everything = resolve_prompts(
        {"system_prompt": "From the request."}, [SESSION_TEMPLATE, COLLECTION_TEMPLATE], settings
    )
    assert everything.texts["system_prompt"] == "From the request."
    assert everything.texts["prompt_query"] == "Collection says: "  # the session's template does not set it
    assert everything.texts["pre_prompt_summary"] == "S: "
    assert everything.texts["pre_prompt_query"] is not None and everything.texts["chat_template"] is None
    assert everything.sources["system_prompt"] == "request"
    assert everything.sources["prompt_query"] == "collection_template"
    assert everything.sources["pre_prompt_summary"] == "chat_settings"
    assert everything.sources["pre_prompt_query"] == "default"
    assert (everything.template_id, everything.template_version, everything.lang) == ("ts", 3, "fr")

    no_request = resolve_prompts({}, [SESSION_TEMPLATE, COLLECTION_TEMPLATE], settings)
    assert no_request.texts["system_prompt"] == "From the session."
    no_session = resolve_prompts({}, [COLLECTION_TEMPLATE], settings)
    assert no_session.texts["system_prompt"] == "From the collection."
    assert (no_session.template_id, no_session.template_version) == ("tc", 1)
    only_settings = resolve_prompts({}, [], settings)
    assert only_settings.texts["system_prompt"] == "From settings."
    nothing = resolve_prompts({}, [], {})
    assert nothing.texts["system_prompt"] is None  # no system message unless a source gives one (or says auto)
    default_template = AppliedTemplate(
        template_id=DEFAULT_TEMPLATE_ID, version=None, fields=DEFAULT_FIELDS, place="session"
    )
    assert resolve_prompts({}, [default_template], {}).texts["system_prompt"] == DEFAULT_SYSTEM_PROMPT
    assert nothing.texts["prompt_query"] == DEFAULT_PROMPT_QUERY
    assert (nothing.template_id, nothing.template_version) == (DEFAULT_TEMPLATE_ID, None)


def test_a_text_that_means_the_default_passes_to_the_next_source() -> None:
    client_copy = "According to the documents,"
    resolved = resolve_prompts(
        {"prompt_query": client_copy}, [COLLECTION_TEMPLATE], {}, means_default={"prompt_query": client_copy}
    )
    assert resolved.texts["prompt_query"] == "Collection says: " and resolved.sources["prompt_query"] == (
        "collection_template"
    )
    # An empty text is a text (no system prompt), not a gap.
    assert resolve_prompts({"system_prompt": ""}, [SESSION_TEMPLATE], {}).texts["system_prompt"] == ""


def test_the_prompt_raw_header_names_the_template_and_its_version() -> None:
    assert template_header("ts", 3) == "<|template|>\nts version 3\n\n"
    assert template_header(DEFAULT_TEMPLATE_ID, None) == "<|template|>\nparley-default version built-in\n\n"
