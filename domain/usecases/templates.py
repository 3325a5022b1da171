"""Prompt templates: create, change (each change a new version), delete, read, list, and their versions."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from domain import template
from domain.errors import InvalidCommand, NotFound
from domain.events import TemplateFields
from domain.ports import TemplateReads
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
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.commands = commands
        self.reads = reads
        self.new_id = new_id

    def create(self, fields: TemplateFields, *, owner: str) -> TemplateView:
        template_id = self.new_id()
        create = template.CreateTemplate(template_id=template_id, fields=fields, owner=owner)
        self.commands.run(template, "template", template_id, create)
        return self.stored(template_id)

    def update(self, template_id: str, changes: TemplateFields, clear: Sequence[str] = ()) -> TemplateView:
        """Set ``changes`` (fields left at None stay as they are) and unset ``clear``: a new version, unless
        nothing differs from the latest one."""
        self._refuse_built_in(template_id, "changed")
        update = template.UpdateTemplate(template_id=template_id, changes=changes, clear=tuple(clear))
        self.commands.run(template, "template", template_id, update)
        return self.stored(template_id)

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
    ) -> list[Listed]:
        """A page of the templates users wrote; with ``include_built_in`` the built-in default heads the first
        page (whatever the sort), as long as the type and the filter keep it."""
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
            max(offset - len(built_in), 0), limit - len(head), sort_column, ascending, text_filter or None
        )
        return [*head, *rows]

    def count(self) -> int:
        """How many templates users wrote (the built-in default is not one of them)."""
        return self.reads.template_count()

    def versions(self, template_id: str) -> list[TemplateVersionView]:
        """Every version of a stored template, oldest first."""
        if template_id == DEFAULT_TEMPLATE.id:
            raise InvalidCommand("the built-in default template is part of Parley, not of the log: it has no versions")
        self.stored(template_id)
        return self.reads.template_versions(template_id)

    @staticmethod
    def _refuse_built_in(template_id: str, what: str) -> None:
        if template_id == DEFAULT_TEMPLATE.id:
            raise InvalidCommand(
                f"the built-in default template is part of Parley and cannot be {what}; create a template of your own"
            )


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
