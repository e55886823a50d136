"""Give copier what cookiecutter gives the templates, so one template tree serves both.

copier.yml loads the classes below through copier-template-extensions:

- `CookiecutterNamespace` puts the answers under the name `cookiecutter`, the way
  cookiecutter exposes them, with the private `__` variables of cookiecutter.json
  rendered the same way (`__year`), and `__answers`, which names copier's answers file
  (cookiecutter.json sets it to "" so that cookiecutter skips that file).
- `NowExtension` is cookiecutter's `{% now 'utc', '%Y' %}` tag.
- The `answer_errors` filter runs `validate()` of hooks/pre_gen_project.py, the rules
  cookiecutter's pre-generation hook applies, and keeps the messages about one answer:
  copier's `validator:` expressions refuse exactly what cookiecutter refuses, with the
  same words.
"""

import datetime
import importlib.util
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from copier_template_extensions import ContextHook
from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
# cookiecutter.json keys that are settings, not variables.
NOT_VARIABLES = {"__prompts__"}
# Private variable that tells the templates the name of copier's answers file.
ANSWERS_FILE_VARIABLE = "__answers"
_cache = {}


def _cached(path, load):
    """Load a file once per modification time (copier creates many contexts)."""
    stamp = path.stat().st_mtime_ns
    key = (str(path), load.__name__)
    if key not in _cache or _cache[key][0] != stamp:
        _cache[key] = (stamp, load(path))
    return _cache[key][1]


def _read_json(path):
    """The questions of cookiecutter.json, in their order."""
    return json.loads(path.read_text(encoding="utf-8"))


def _import_rules(path):
    """Import hooks/pre_gen_project.py: it is valid Python before rendering."""
    spec = importlib.util.spec_from_file_location("_template_pre_gen_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer_errors(answers, name):
    """The pre-generation hook's messages about the answer `name` (empty when valid).

    `validate()` checks every answer; copier asks one question at a time, so the
    messages about questions not asked yet are dropped. Messages start with `name:` or,
    for a rule between two answers, `name=value needs ...`.
    """
    rules = _cached(TEMPLATE_ROOT / "hooks" / "pre_gen_project.py", _import_rules)
    messages = [
        message
        for message in rules.validate(dict(answers))
        if message.startswith((f"{name}:", f"{name}="))
    ]
    return " ".join(messages)


class _Namespace(dict):
    """The answers; private variables are rendered when a template first reads one."""

    def __init__(self, answers, private, render_private):
        super().__init__(answers)
        self._cookiecutter_private = private
        self._cookiecutter_render = render_private

    def __missing__(self, key):
        if key not in self._cookiecutter_private:
            raise KeyError(key)
        value = self._cookiecutter_render(key, self._cookiecutter_private[key], self)
        self[key] = value
        return value


class CookiecutterNamespace(ContextHook):
    """Expose copier's answers as `cookiecutter.<name>`, as cookiecutter does."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["answer_errors"] = answer_errors
        self._compiled = {}

    def hook(self, context):
        """Add `cookiecutter` to every rendering context copier creates."""
        spec = _cached(TEMPLATE_ROOT / "cookiecutter.json", _read_json)
        answers = {}
        private = {}
        for key, value in spec.items():
            if key in NOT_VARIABLES:
                continue
            if key.startswith("__"):
                private[key] = value
            elif key.startswith("_"):
                answers[key] = value  # cookiecutter settings, exposed unrendered
            elif key in context:
                answers[key] = context[key]
        conf = context["_copier_conf"]

        def render_private(key, value, namespace):
            if key == ANSWERS_FILE_VARIABLE:
                return str(conf["answers_file"])
            if not isinstance(value, str):
                return value
            if value not in self._compiled:
                self._compiled[value] = self.environment.from_string(value)
            # Rendered without `_copier_conf`, so this hook is not re-entered.
            return self._compiled[value].render(cookiecutter=namespace)

        context["cookiecutter"] = _Namespace(answers, private, render_private)


class NowExtension(Extension):
    """`{% now 'utc', '%Y' %}`: the current time in a timezone, formatted.

    The timezone is 'utc', 'local' or an IANA name; the format defaults to
    '%Y-%m-%d', as in cookiecutter. cookiecutter's shifted form (`'utc' + 'days=1'`)
    is not supported and is refused when the template is read.
    """

    tags = {"now"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(datetime_format="%Y-%m-%d")

    def parse(self, parser):
        """Parse `now <timezone>[, <format>]` into a call of `_now`."""
        lineno = next(parser.stream).lineno
        timezone = parser.parse_expression()
        if isinstance(timezone, (nodes.Add, nodes.Sub)):
            raise TemplateSyntaxError(
                "{% now %}: shifting the time ('utc' + 'days=1') is not supported "
                "by the copier extension of this template.",
                lineno,
            )
        datetime_format = nodes.Const(None)
        if parser.stream.skip_if("comma"):
            datetime_format = parser.parse_expression()
        call = self.call_method("_now", [timezone, datetime_format], lineno=lineno)
        return nodes.Output([call], lineno=lineno)

    def _now(self, timezone, datetime_format):
        """Format the current time in `timezone`."""
        if timezone.lower() == "utc":
            now = datetime.datetime.now(datetime.timezone.utc)
        elif timezone.lower() == "local":
            now = datetime.datetime.now().astimezone()
        else:
            now = datetime.datetime.now(ZoneInfo(timezone))
        return now.strftime(datetime_format or self.environment.datetime_format)
