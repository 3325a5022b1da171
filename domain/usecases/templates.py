"""Prompt templates: create, change (each change a new version), delete, read, list, their versions and diffs."""

from __future__ import annotations

import difflib
import json
import uuid
from collections.abc import Callable, Sequence

import msgspec

from domain import template
from domain.access import Principal
from domain.answering import DocumentPrompts
from domain.errors import InvalidCommand, NotFound, UnsafeTemplate
from domain.events import TemplateFields
from domain.ports import AnswerReads, ChatTemplates, RefusedCommands, TemplateReads
from domain.prompting import document_prompts
from domain.template import DEFAULT_TEMPLATE, BuiltInTemplate
from domain.usecases.commands import Commands
from domain.views import TemplateVersionView, TemplateView

# h2oGPTe's template types: the built-in ("system") templates, the ones users wrote ("user"), or both.
TEMPLATE_TYPES = ("all", "user", "system")

Listed = TemplateView | BuiltInTemplate


class ManagePromptTemplates:
    def __init__(
        self,
        commands: Commands,
        reads: TemplateReads,
        chat_templates: ChatTemplates,
        refusals: RefusedCommands,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.commands = commands
        self.reads = reads
        self.chat_templates = chat_templates
        self.refusals = refusals
        self.new_id = new_id

    def create(self, fields: TemplateFields, *, owner: str) -> TemplateView:
        self._check_chat_template("create_prompt_template", fields.name or "", fields.chat_template)
        template_id = self.new_id()
        create = template.CreateTemplate(template_id=template_id, fields=fields, owner=owner)
        self.commands.run(template, "template", template_id, create)
        return self.stored(template_id)

    def update(self, template_id: str, changes: TemplateFields, clear: Sequence[str] = ()) -> TemplateView:
        """Set ``changes`` (fields left at None stay as they are) and unset ``clear``: a new version, unless
        nothing differs from the latest one."""
        self._refuse_built_in(template_id, "changed")
        self._check_chat_template("update_prompt_template", template_id, changes.chat_template)
        update = template.UpdateTemplate(template_id=template_id, changes=changes, clear=tuple(clear))
        self.commands.run(template, "template", template_id, update)
        return self.stored(template_id)

    def _check_chat_template(self, command: str, naming: str, source: str | None) -> None:
        """A chat template that cannot render is a 400; one that reaches for Python's internals is a 400 too,
        and is recorded as an attack (it is never rendered). Nothing else is recorded: the command did nothing."""
        if source is None:
            return
        if len(source) > template.MAX_FIELD_CHARS:
            raise InvalidCommand(f"chat_template is longer than {template.MAX_FIELD_CHARS:,} characters")
        try:
            self.chat_templates.check(source)
        except UnsafeTemplate as refused:
            self.refusals.record(command, refused.message, f"template {naming!r}: {source[:500]!r}")
            raise

    def version(self, template_id: str, version: int) -> TemplateVersionView:
        """One version of a stored template, as it read then."""
        self.versions(template_id)
        row = self.reads.template_version(template_id, version)
        if row is None:
            raise NotFound(f"prompt template {template_id} has no version {version}")
        return row

    def diff(self, template_id: str, from_version: int, to_version: int) -> dict[str, str]:
        """A unified diff per field that differs between two versions (a field unset on one side is empty)."""
        before, after = self.version(template_id, from_version), self.version(template_id, to_version)
        old, new = json.loads(before.fields), json.loads(after.fields)
        diffs = {}
        for name in template.FIELD_NAMES:
            if old.get(name) == new.get(name):
                continue
            lines = difflib.unified_diff(
                _lines(old.get(name)),
                _lines(new.get(name)),
                fromfile=f"{name}@{from_version}",
                tofile=f"{name}@{to_version}",
            )
            diffs[name] = "".join(
                line if line.endswith("\n") else line + "\n\\ No newline at end of text\n" for line in lines
            )
        return diffs

    def delete(self, template_ids: Sequence[str]) -> None:
        """Delete every one of ``template_ids``, or (when one is unknown or built in) none of them."""
        for template_id in template_ids:
            self._refuse_built_in(template_id, "deleted")
        missing = [template_id for template_id in template_ids if self.reads.template(template_id) is None]
        if missing:
            raise NotFound(f"prompt template {', '.join(missing)} not found")
        for template_id in dict.fromkeys(template_ids):
            self.commands.run(template, "template", template_id, template.DeleteTemplate(template_id=template_id))

    def read(self, template_id: str) -> Listed:
        if template_id == DEFAULT_TEMPLATE.id:
            return DEFAULT_TEMPLATE
        return self.stored(template_id)

    def stored(self, template_id: str) -> TemplateView:
        row = self.reads.template(template_id)
        if row is None:
            raise NotFound(f"prompt template {template_id} not found")
        return row

    def default(self) -> BuiltInTemplate:
        return DEFAULT_TEMPLATE

    def listing(
        self,
        offset: int,
        limit: int,
        *,
        sort_column: str = "updated_at",
        ascending: bool = False,
        template_type: str | None = None,
        text_filter: str | None = None,
        include_built_in: bool = False,
        viewer: Principal | None = None,
    ) -> list[Listed]:
        """A page of the templates users wrote that ``viewer`` may read; with ``include_built_in`` the built-in
        default heads the first page (whatever the sort), as long as the type and the filter keep it."""
        kind = template_type or "all"
        if kind not in TEMPLATE_TYPES:
            raise InvalidCommand(f"template_type must be one of {', '.join(TEMPLATE_TYPES)}, not {kind!r}")
        built_in = (
            [DEFAULT_TEMPLATE]
            if include_built_in and kind != "user" and _matches(DEFAULT_TEMPLATE, text_filter)
            else []
        )
        head: list[Listed] = list(built_in[offset : offset + limit])
        if kind == "system":
            return head
        rows = self.reads.templates(
            max(offset - len(built_in), 0), limit - len(head), sort_column, ascending, text_filter or None, viewer
        )
        return [*head, *rows]

    def count(self, viewer: Principal | None = None) -> int:
        """How many templates users wrote that ``viewer`` may read (the built-in default is not one of them)."""
        return self.reads.template_count(viewer=viewer)

    def versions(self, template_id: str) -> list[TemplateVersionView]:
        """Every version of a stored template, oldest first."""
        if template_id == DEFAULT_TEMPLATE.id:
            raise InvalidCommand("the built-in default template is part of Parley, not of the log: it has no versions")
        self.stored(template_id)
        return self.reads.template_versions(template_id)

    def sample_questions(self, *template_ids: str | None) -> list[str]:
        """The ``default_sample_questions`` of the first of ``template_ids`` (nearest first) that has them: what a
        collection or session suggests before its documents suggest any."""
        for template_id in template_ids:
            row = self.reads.template(template_id) if template_id else None
            questions = json.loads(row.fields).get("default_sample_questions") if row is not None else None
            if questions:
                return list(questions)
        return []

    @staticmethod
    def _refuse_built_in(template_id: str, what: str) -> None:
        if template_id == DEFAULT_TEMPLATE.id:
            raise InvalidCommand(
                f"the built-in default template is part of Parley and cannot be {what}; create a template of your own"
            )


def _lines(value: object) -> list[str]:
    """A field's text as lines for a diff: a list (default_sample_questions) one item a line."""
    if value is None:
        return []
    text = "\n".join(value) if isinstance(value, list) else str(value)
    return text.splitlines(keepends=True)


def _matches(built_in: BuiltInTemplate, text: str | None) -> bool:
    """The read side's filter (``TemplateReads.templates``), on a built-in template: ASCII letters in any case."""
    if not text:
        return True
    needle = text.translate(_ASCII_LOWER)
    fields = built_in.fields
    return any(
        needle in (value or "").translate(_ASCII_LOWER) for value in (fields.name, fields.description, fields.lang)
    )


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class CollectionDocumentPrompts:
    """The ``auto_gen_document_*`` texts of a collection's template, looked up when a document is written."""

    def __init__(self, reads: AnswerReads) -> None:
        self.reads = reads

    def __call__(self, collection_id: str) -> DocumentPrompts:
        collection = self.reads.collection(collection_id)
        template_id = collection.prompt_template_id if collection is not None else None
        row = self.reads.template(template_id) if template_id else None
        return document_prompts(msgspec.json.decode(row.fields, type=TemplateFields) if row is not None else None)
