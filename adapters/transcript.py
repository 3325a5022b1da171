"""JinjaTranscript: a chat session's exported events as an HTML transcript (Jinja2, autoescape on, so nothing a
user wrote can become markup): questions, answers, citations with pages, templates and their versions, times and
actors, renames, replays and failures."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

TRANSCRIPT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat session {{ session_id }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.45; }
.entry { border-left: 3px solid #ccc; padding: .25rem 1rem; margin: 1rem 0; }
.question { border-color: #2b6cb0; } .answer { border-color: #2f855a; } .failed { border-color: #c53030; }
.meta { color: #555; font-size: .85rem; } pre { white-space: pre-wrap; margin: .25rem 0; }
</style></head><body>
<h1>Chat session {{ session_id }}</h1>
<p class="meta">Exported {{ exported_at }}; {{ entries | length }} events; last hash <code>{{ last_hash }}</code>
(check the JSON Lines export with <code>parley export --verify</code>).</p>
{% for e in entries %}
<div class="entry {{ e.kind }}" id="v{{ e.version }}">
<div class="meta">#{{ e.version }} · position {{ e.position }} · {{ e.recorded_at }} · {{ e.actor or "unknown actor" }}
{%- if e.key_id %} (key {{ e.key_id }}){% endif %} · {{ e.type }}</div>
{% if e.kind == "question" %}<strong>Question</strong><pre>{{ e.payload.text }}</pre>
{% elif e.kind == "answer" %}<strong>Answer</strong> <span class="meta">{{ e.payload.llm }}, {{ e.payload.rag_type }}
{%- if e.payload.template_id %}, template {{ e.payload.template_id }}
version {{ e.payload.template_version }}{% endif %}</span>
<pre>{{ e.payload.text }}</pre>
{% if e.payload.references %}<ol>{% for r in e.payload.references %}
<li>{{ r.document_name }}, page {{ r.pages | join(", ") }} (score {{ "%.3f" | format(r.score) }})</li>
{% endfor %}</ol>{% endif %}
{% elif e.kind == "failed" %}<strong>No answer</strong><pre>{{ e.payload.reason }}</pre>
{% elif e.kind == "replay" %}<strong>Replay of {{ e.payload.message_id }}</strong>
<span class="meta">{{ e.payload.llm }}, {{ "identical" if e.payload.identical else "different" }}</span>
<pre>{{ e.payload.text }}</pre>
{% elif e.type == "ChatSessionCreated" %}Session created{% if e.payload.collection_id %} on collection
{{ e.payload.collection_id }}{% endif %}{% if e.payload.name %}, named {{ e.payload.name }}{% endif %}
{% elif e.type == "ChatSessionRenamed" %}Renamed to <em>{{ e.payload.name }}</em>
{% elif e.type == "ChatSessionDeleted" %}Session deleted
{% else %}{{ e.type }}{% endif %}
</div>
{% endfor %}
</body></html>
"""

_KINDS = {
    "QuestionAsked": "question",
    "AnswerGenerated": "answer",
    "AnswerFailed": "failed",
    "AnswerReplayed": "replay",
}


class JinjaTranscript:
    """Renders an export's entries (``domain.usecases.audit.export_lines``) as one HTML page."""

    def __init__(self) -> None:
        self.template = Environment(autoescape=select_autoescape(default=True), trim_blocks=True).from_string(
            TRANSCRIPT
        )

    def render(self, lines: list[dict[str, Any]]) -> str:
        header, entries, trailer = lines[0], lines[1:-1], lines[-1]
        shown = [{**entry, "kind": _KINDS.get(entry["type"], "other")} for entry in entries]
        return self.template.render(
            session_id=header["session_id"],
            exported_at=header["exported_at"],
            entries=shown,
            last_hash=trailer["last_hash"],
        )
