"""The official openai Python SDK as a real client of `roma serve` (started by scripts/test-openai-sdk.sh).

Models list, chat and completion, streaming with usage, a per-request adapter, and errors raised as the
SDK's own exception types. Prints one line per check and a last line "N passed, N failed".
"""
import os
import sys
import traceback

import openai

BASE = os.environ["ROMA_URL"] + "/v1"
MODEL = os.environ["ROMA_MODEL"]
ADAPTER = os.environ["ROMA_ADAPTER"]
client = openai.OpenAI(base_url=BASE, api_key=os.environ.get("ROMA_KEY", "none"), max_retries=0, timeout=600)
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append(True)
            print(f"ok   {name}")
        except Exception:
            results.append(False)
            print(f"FAIL {name}")
            traceback.print_exc()
        return fn
    return wrap


@check("models list: the base and the adapter (with its parent)")
def _():
    ids = [m.id for m in client.models.list().data]
    assert ids[0] == MODEL and ADAPTER in ids, ids
    m = client.models.retrieve(ADAPTER)
    assert m.id == ADAPTER and getattr(m, "parent", None) == MODEL, m


@check("chat completion: Paris, usage, finish reason")
def _():
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=24)
    text = r.choices[0].message.content
    assert "Paris" in text, text
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")


@check("streaming chat with include_usage equals the whole response")
def _():
    whole = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=24)
    chunks = list(client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=24,
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content, (text, whole.choices[0].message.content)
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


@check("text completion with logprobs")
def _():
    r = client.completions.create(model=MODEL, prompt="The quick brown fox", temperature=0, max_tokens=8, logprobs=2)
    assert r.object == "text_completion" and len(r.choices[0].text) > 0
    assert len(r.choices[0].logprobs.tokens) == r.usage.completion_tokens
    assert all(lp <= 0 for lp in r.choices[0].logprobs.token_logprobs)


@check("per-request adapter by model name, and by the adapters field")
def _():
    a = client.completions.create(model=ADAPTER, prompt="The capital of France is", temperature=0, max_tokens=12)
    b = client.completions.create(model=MODEL, prompt="The capital of France is", temperature=0, max_tokens=12,
                                  extra_body={"adapters": [{"name": ADAPTER, "scale": 1.0}]})
    assert a.model == ADAPTER and a.choices[0].text == b.choices[0].text, (a.choices[0].text, b.choices[0].text)


@check("unknown model -> openai.NotFoundError (404)")
def _():
    try:
        client.chat.completions.create(model="no-such-model", messages=QUESTION, max_tokens=4)
    except openai.NotFoundError as e:
        assert e.status_code == 404 and e.body["code"] == "model_not_found", e.body
        return
    raise AssertionError("no NotFoundError")


@check("bad parameter -> openai.BadRequestError (400) naming the parameter")
def _():
    try:
        client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=5, max_tokens=4)
    except openai.BadRequestError as e:
        assert e.status_code == 400 and e.body["param"] == "temperature", e.body
        return
    raise AssertionError("no BadRequestError")


passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
