"""The `anthropic` provider: Claude through the official SDK (`pip install "dataraum-context[anthropic]"`).

The key is read from `ANTHROPIC_API_KEY` when a request is made, never from a config file and
never stored: the provider holds only settings, so it pickles into Hamilton's cache without a
secret, and the SDK client lives for one call. Rate limits (429), server errors (5xx) and
timeouts are retried with exponential backoff (a `retry-after` header wins, up to
`max_backoff_s`); any other error, or the last retry, fails with the provider's message.
"""

from __future__ import annotations

import os
import time
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any

from dataraum_context import settings
from dataraum_context.errors import ConfigError
from dataraum_context.llm.protocol import LLMError
from dataraum_context.llm.tool_use import ToolCall, ToolRequest, ToolUseProvider

API_KEY_ENV = "ANTHROPIC_API_KEY"


def api_key() -> str:
    """The API key from the environment; a ConfigError before any request when it is not set."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise ConfigError(f"llm provider anthropic: set the environment variable {API_KEY_ENV} "
                          "(the key is read from there only, and never stored)")
    return key


def sdk() -> ModuleType:
    try:
        import anthropic
    except ImportError:
        raise ConfigError("llm provider anthropic needs the anthropic package: "
                          "pip install 'dataraum-context[anthropic]'") from None
    return anthropic


class AnthropicProvider(ToolUseProvider):
    name: str = "anthropic"
    model: str = settings.ANTHROPIC_MODEL
    base_url: str | None = None  # None: the SDK's default (or ANTHROPIC_BASE_URL)
    max_tokens: int = settings.LLM_MAX_TOKENS
    max_retries: int = settings.LLM_MAX_RETRIES
    backoff_s: float = settings.LLM_BACKOFF_S
    max_backoff_s: float = settings.LLM_MAX_BACKOFF_S
    timeout_s: float = settings.LLM_TIMEOUT_S

    def complete(self, request: ToolRequest) -> ToolCall:
        anthropic = sdk()
        messages: list[dict[str, Any]] = [{"role": "user", "content": request.prompt}]
        if request.rejected is not None:  # show the model its answer and what is wrong with it
            messages += [
                {"role": "assistant", "content": [{"type": "tool_use", "id": request.rejected.id,
                                                   "name": request.tool_name, "input": request.rejected.input}]},
                {"role": "user", "content": [{
                    "type": "tool_result", "tool_use_id": request.rejected.id, "is_error": True,
                    "content": f"This answer does not fit the schema: {request.error}. Call "
                               f"{request.tool_name} again with a complete, corrected answer."}]},
            ]
        with anthropic.Anthropic(api_key=api_key(), base_url=self.base_url, max_retries=0,
                                 timeout=self.timeout_s) as client:
            response = self._create(anthropic, client, model=self.model, max_tokens=self.max_tokens,
                                    system=request.system, messages=messages,
                                    tools=[{"name": request.tool_name, "description": request.tool_description,
                                            "input_schema": request.input_schema}],
                                    tool_choice={"type": "tool", "name": request.tool_name})
        if response.stop_reason == "max_tokens":
            raise LLMError(f"{self.label}: the answer was cut off at max_tokens={self.max_tokens} "
                           "(raise llm_max_tokens or lower llm_batch_columns)")
        block = next((b for b in response.content if b.type == "tool_use" and b.name == request.tool_name), None)
        if block is None:
            text = " ".join(getattr(b, "text", "") for b in response.content).strip()
            raise LLMError(f"{self.label}: answered without calling {request.tool_name}: {text[:200]!r}")
        return ToolCall(id=block.id, input=dict(block.input), input_tokens=response.usage.input_tokens,
                        output_tokens=response.usage.output_tokens)

    def _create(self, anthropic: ModuleType, client: Any, **kwargs: Any) -> Any:
        """`messages.create`, retried with exponential backoff on 429, 5xx and timeouts."""
        attempt = 0
        while True:
            try:
                return client.messages.create(**kwargs)
            except anthropic.APIStatusError as exc:
                retryable = exc.status_code in (408, 429) or exc.status_code >= 500
                reason = f"HTTP {exc.status_code}: {_message(exc)}"
                hint = _retry_after(exc.response.headers)
            except anthropic.APIConnectionError as exc:  # a timeout is one
                retryable, reason, hint = True, f"{type(exc).__name__}: {exc}", None
            if not retryable or attempt >= self.max_retries:
                tries = f" (gave up after {attempt + 1} attempts)" if attempt else ""
                raise LLMError(f"{self.label}: {reason}{tries}", transient=retryable)
            time.sleep(min(self.max_backoff_s, hint if hint is not None else self.backoff_s * 2 ** attempt))
            attempt += 1


def _message(exc: Any) -> str:
    """The API's own error message (`{"error": {"message": ...}}`), else the exception's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("message"):
        return str(body["error"]["message"])
    return str(getattr(exc, "message", exc))


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asks to wait: `retry-after-ms`, `retry-after` in seconds or as a date."""
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
