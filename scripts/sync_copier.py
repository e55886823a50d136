"""Write copier.yml's questions from cookiecutter.json, so the two never drift.

Usage: python scripts/sync_copier.py [--check]

cookiecutter.json is the one source of the questions. Everything in copier.yml below
the marker line is generated from it: the same names, defaults (derived defaults keep
cookiecutter's Jinja expression, which copier renders through the `cookiecutter`
namespace of extensions/cookiecutter_compat.py), choices (the first one is the default),
help text (cookiecutter's `__prompts__`) and a validator that applies the
pre-generation hook's rules. Private variables (`__year`, `__answers`) are not
questions: the extension renders them from cookiecutter.json. Settings above the marker
are edited by hand.

With --check nothing is written; the exit status is 1 when copier.yml is out of date.
Standard library only.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = ROOT / "cookiecutter.json"
COPIER_YML = ROOT / "copier.yml"
PRE_GEN_HOOK = ROOT / "hooks" / "pre_gen_project.py"
MARKER = (
    "# --- Questions generated from cookiecutter.json by scripts/sync_copier.py. "
    "Do not edit below. ---"
)


def scalar(value):
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(value, ensure_ascii=False)


def requirements():
    """The pre-generation hook's REQUIRES: component -> component it builds on."""
    spec = importlib.util.spec_from_file_location("pre_gen_project", PRE_GEN_HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.REQUIRES


def questions(spec, requires):
    """The YAML lines of copier's questions for cookiecutter.json's variables.

    A component that builds on another (the hook's REQUIRES) is only asked when that one
    is on; otherwise its answer is 'no', the only one the hook accepts.
    """
    prompts = spec.get("__prompts__", {})
    lines = []
    for name, value in spec.items():
        if name.startswith("_"):
            continue
        if not isinstance(value, (str, list)):
            raise SystemExit(
                f"cookiecutter.json: {name}: only text and lists of choices are "
                "supported (use 'yes'/'no' choices instead of booleans)."
            )
        lines.append(f"{name}:")
        lines.append("  type: str")
        if name in prompts:
            lines.append(f"  help: {scalar(prompts[name])}")
        if isinstance(value, list):
            lines.append(f"  choices: [{', '.join(scalar(str(v)) for v in value)}]")
            value = value[0]
        if name in requires:
            if spec[name] not in (["yes", "no"], ["no", "yes"]):
                raise SystemExit(f"cookiecutter.json: {name}: expected 'yes'/'no'.")
            condition = f"cookiecutter.{requires[name]} == 'yes'"
            value = "{{ '" + value + "' if " + condition + " else 'no' }}"
            lines.append(f"  when: {scalar('{{ ' + condition + ' }}')}")
        lines.append(f"  default: {scalar(str(value))}")
        rule = "{{ cookiecutter | answer_errors('" + name + "') }}"
        lines.append(f"  validator: {scalar(rule)}")
    return lines


def render(current_text, spec, requires):
    """copier.yml with its generated part rewritten."""
    head, found, _ = current_text.partition(MARKER)
    if not found:
        raise SystemExit(f"{COPIER_YML.name}: marker line not found:\n{MARKER}")
    return head + MARKER + "\n" + "\n".join(questions(spec, requires)) + "\n"


def main(argv=None):
    """Rewrite copier.yml, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if copier.yml is out of date"
    )
    args = parser.parse_args(argv)
    spec = json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))
    current = COPIER_YML.read_text(encoding="utf-8")
    wanted = render(current, spec, requirements())
    if args.check:
        if current != wanted:
            print(
                "copier.yml is out of date with cookiecutter.json: "
                "run `python scripts/sync_copier.py`.",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != wanted:
        COPIER_YML.write_text(wanted, encoding="utf-8", newline="\n")
        print("copier.yml updated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
