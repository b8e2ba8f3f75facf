"""A provider by name (judge/data/providers.json): the OpenAI backend at the provider's URL, with
the provider's key variable, asking only for what the provider supports.

- The server is the preset's base URL; `--base-url` overrides it (a proxy, a test server) and then
  names the server in the cache key, as for any compatible server.
- A hosted provider's key is read from its own variable (GROQ_API_KEY, ...) and sent as a bearer
  token, as each of them documents; without it the error names that variable. Local servers
  (vllm/, ollama/, llamacpp/) need no key.
- A feature the provider lacks is never requested: no `logprobs` where it has none (Groq answers
  them with a 400), `json_object` where JSON mode is all it has (the schema then goes into the
  prompt and the parser stays strict), no --batch without an OpenAI-compatible batch API.
  `feature_notes()` says so, once per run, in the summary.
- Hosted providers go through the SDK's request path, like OpenAI's own API; local servers get
  the lean POST (lean_http.py), like any server at --base-url.
"""

from __future__ import annotations

from typing import Any

from judge.backends.openai import OpenAIBackend
from judge.backends.presets import Provider


class PresetBackend(OpenAIBackend):
    """A chat model of a provider named in the provider table."""

    def __init__(self, model: str, *, preset: Provider, **kwargs: Any) -> None:
        self.preset = preset
        self.provider = preset.name
        self.key_env = preset.key_env or ""
        self.base_url_env = ""  # only --base-url moves a preset
        self.official_url = preset.url or ""
        self.example_model = "MODEL"
        self.missing_key_hint = (
            f"export your {preset.title} API key in it, or pick another model with -m "
            "(judge models lists the providers)"
        )
        super().__init__(model, **kwargs)
        features = preset.features
        self._schema_mode = features.structured_output
        if not features.logprobs:
            self._dropped.add("logprobs")
        if features.batch is None:
            self.batch = None

    @property
    def official(self) -> bool:
        return False

    @property
    def key_needed(self) -> bool:
        return self.preset.key_env is not None

    @property
    def default_url(self) -> str | None:
        return self.preset.url

    @property
    def lean_by_default(self) -> bool:
        return self.preset.key_env is None

    def feature_notes(self) -> list[str]:
        """What the judge does not ask of this provider, in words for the run's summary."""
        p, features = self.preset, self.preset.features
        notes = []
        if not features.logprobs:
            notes.append(
                f"judge: note: {p.title} ({self.provider}/) gives no token log-probabilities, so "
                "none were asked for: verdicts carry no expected_scores, and compare mode takes "
                "P(a better) from the verdicts."
            )
        if features.structured_output != "json_schema":
            notes.append(
                f"judge: note: {p.title} ({self.provider}/) has no JSON-schema output, so the "
                f"schema was written into the prompt ({features.structured_output}); answers "
                "off the schema are re-asked, then left unjudged."
            )
        return notes
