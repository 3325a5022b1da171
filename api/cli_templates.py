"""``parley template``: preview a prompt template's prompt, and keep templates as YAML files (one per template) that
authors commit to git and review as diffs.

- ``parley template preview ID QUESTION [--session ID | --collection ID]`` prints the messages the model would
  receive, and the chunks they hold, without calling the model.
- ``parley template export DIR`` writes every template users wrote to ``DIR/<name>.yaml``.
- ``parley template import DIR`` creates or updates a template per file: matched by the file's ``id``, else by
  its ``name``; a template whose fields already read as the file's is left alone, so importing unchanged files
  makes no new version.

All of them talk to a running server (``--url``, ``--api-key`` or ``PARLEY_URL``, ``PARLEY_API_KEY``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from api.cli_http import api_client, checked

# The template fields a file holds, in the order it lists them (the wire's, with Parley's chat_template last).
FIELDS = (
    "name",
    "description",
    "lang",
    "system_prompt",
    "pre_prompt_query",
    "prompt_query",
    "hyde_no_rag_llm_prompt_extension",
    "pre_prompt_summary",
    "prompt_summary",
    "system_prompt_reflection",
    "prompt_reflection",
    "auto_gen_description_prompt",
    "auto_gen_document_summary_pre_prompt_summary",
    "auto_gen_document_summary_prompt_summary",
    "auto_gen_document_sample_questions_prompt",
    "default_sample_questions",
    "image_batch_image_prompt",
    "image_batch_final_prompt",
    "chat_template",
)
HEADER = "# A Parley prompt template (`parley template export`); edit it, then `parley template import` the folder.\n"


def add_commands(commands: Any) -> None:
    """Registers ``parley template ...`` on the top-level parser's subcommands."""
    template = commands.add_parser("template", help="preview prompt templates; export and import them as YAML")
    actions = template.add_subparsers(dest="template_command", required=True)
    preview = actions.add_parser("preview", help="the messages a template makes for a question (no model call)")
    preview.add_argument("template_id")
    preview.add_argument("question")
    where = preview.add_mutually_exclusive_group()
    where.add_argument("--session", help="a chat session: its collection and history take part")
    where.add_argument("--collection", help="a collection to retrieve from")
    preview.set_defaults(run=preview_template)
    export = actions.add_parser("export", help="write every template to DIR, one YAML file each")
    export.add_argument("directory", type=Path)
    export.set_defaults(run=export_templates)
    load = actions.add_parser("import", help="create or update templates from the YAML files in DIR")
    load.add_argument("directory", type=Path)
    load.set_defaults(run=import_templates)
    for parser in (preview, export, load):
        parser.add_argument("--url", default=os.environ.get("PARLEY_URL", "http://127.0.0.1:8000"))
        parser.add_argument("--api-key", default=os.environ.get("PARLEY_API_KEY"), help="or PARLEY_API_KEY")


def preview_template(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"question": args.question}
    if args.session:
        body["session_id"] = args.session
    if args.collection:
        body["collection_id"] = args.collection
    with api_client(args) as client:
        preview = checked(client.post(f"/prompt_templates/{args.template_id}/preview", json=body))
    print(preview["prompt_raw"])
    print(f"\n--- {preview['rag_type']} with {preview['llm']}; {len(preview['references'])} chunks in the context")
    for rank, reference in enumerate(preview["references"], start=1):
        print(f"[{rank}] {reference['document_name']} page {reference['pages']} score {reference['score']:.3f}")
    return 0


def _stored(client: Any) -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = checked(client.get("/prompt_templates", params={"limit": 10_000}))
    return templates


def _text_of(template: dict[str, Any]) -> dict[str, Any]:
    return {name: template[name] for name in FIELDS if template.get(name) is not None}


def _block_dumper() -> Any:
    """PyYAML's safe dumper, writing texts of several lines as ``|`` blocks, so a diff shows the lines changed."""
    import yaml

    dumper: Any = type("BlockDumper", (yaml.SafeDumper,), {})  # a class of its own: the representer stays here

    def text(dumper: Any, value: str) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    dumper.add_representer(str, text)
    return dumper


def _file_name(name: str, taken: set[str]) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "template"
    candidate, number = f"{stem}.yaml", 2
    while candidate in taken:
        candidate, number = f"{stem}-{number}.yaml", number + 1
    taken.add(candidate)
    return candidate


def export_templates(args: argparse.Namespace) -> int:
    import yaml

    directory: Path = args.directory
    directory.mkdir(parents=True, exist_ok=True)
    with api_client(args) as client:
        templates = _stored(client)
    taken: set[str] = set()
    for template in sorted(templates, key=lambda t: (t.get("name") or "", t["id"])):
        content = {"id": template["id"], "version": template.get("version"), **_text_of(template)}
        text = yaml.dump(content, Dumper=_block_dumper(), sort_keys=False, allow_unicode=True, width=120)
        (directory / _file_name(template.get("name") or "", taken)).write_text(HEADER + text, encoding="utf-8")
    print(f"{len(templates)} templates written to {directory}")
    return 0


def import_templates(args: argparse.Namespace) -> int:
    import yaml

    directory: Path = args.directory
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not paths:
        print(f"no .yaml files in {directory}", file=sys.stderr)
        return 2
    created = updated = unchanged = 0
    with api_client(args) as client:
        stored = _stored(client)
        by_id = {t["id"]: t for t in stored}
        by_name = {t.get("name"): t for t in stored}
        for path in paths:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(content, dict) or not isinstance(content.get("name"), str):
                raise SystemExit(f"{path}: not a template (a YAML mapping with a name)")
            unknown = sorted(set(content) - {"id", "version", *FIELDS})
            if unknown:
                raise SystemExit(f"{path}: unknown fields {', '.join(unknown)}")
            wanted = _text_of(content)
            existing = by_id.get(content.get("id")) or by_name.get(content["name"])
            if existing is None:
                made = checked(client.post("/prompt_templates", json=wanted))
                by_id[made["id"]] = by_name[made["name"]] = made
                created += 1
                continue
            current = _text_of(existing)
            changes: dict[str, Any] = {k: v for k, v in wanted.items() if current.get(k) != v}
            changes.update({k: None for k in current if k not in wanted})  # null unsets what the file left out
            if not changes:
                unchanged += 1
                continue
            checked(client.patch(f"/prompt_templates/{existing['id']}", json=changes))
            updated += 1
    print(f"{created} created, {updated} updated, {unchanged} unchanged")
    return 0
