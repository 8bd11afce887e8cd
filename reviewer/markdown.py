"""A review as readable markdown, for people rather than programs."""

from __future__ import annotations

from reviewer.models.pricing import format_cost
from reviewer.outcome import ReviewOutcome


def _items(values: list[str]) -> str:
    return "\n".join(f"- {value}" for value in values) if values else "- (none)"


def outcome_markdown(outcome: ReviewOutcome) -> str:
    meta = outcome.meta
    lines = [f"# Review of {outcome.paper_id}", ""]
    if outcome.review is None:
        kind = outcome.failure.kind if outcome.failure else "unknown"
        message = outcome.failure.message if outcome.failure else ""
        lines += [f"**The review failed** ({kind}): {message}", ""]
    else:
        r = outcome.review
        lines += [
            f"**Decision: {r.Decision}** · Overall {r.Overall}/10 · Confidence {r.Confidence}/5 · "
            f"by threshold {meta.threshold:g}: {meta.decision_by_threshold}",
            "",
            "| Originality | Quality | Clarity | Significance | Soundness | Presentation | Contribution |",
            "|---|---|---|---|---|---|---|",
            f"| {r.Originality} | {r.Quality} | {r.Clarity} | {r.Significance} | {r.Soundness} | "
            f"{r.Presentation} | {r.Contribution} |",
            "",
            "## Summary", "", r.Summary, "",
            "## Strengths", "", _items(r.Strengths), "",
            "## Weaknesses", "", _items(r.Weaknesses), "",
            "## Questions", "", _items(r.Questions), "",
            "## Limitations", "", _items(r.Limitations), "",
            f"Ethical concerns: {'yes' if r.Ethical_Concerns else 'no'}", "",
        ]
    usage = meta.usage or {}
    lines.append(
        f"---\n{meta.model} · {meta.calls} calls ({meta.cached_calls} from cache) · "
        f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens · "
        f"{format_cost(meta.cost_usd)} · {meta.latency_s:.1f} s"
    )
    if meta.notes:
        lines.append("\n" + "\n".join(f"- {note}" for note in meta.notes))
    if meta.truncated:
        lines.append(f"\nThe paper was cut to fit the context window: {meta.truncation}")
    if meta.hidden_text and meta.hidden_text.count:
        lines.append(f"\nHidden text kept out of the prompt: {meta.hidden_text.count} spans")
    if meta.injection and meta.injection.count:
        lines.append(f"\nInstructions to an LLM reviewer in the paper: {meta.injection.count}")
    return "\n".join(lines) + "\n"
